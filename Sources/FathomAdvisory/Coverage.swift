public import FathomInventory
import FathomVersion

/// Which advisory namespaces an image's packages were checked against, and which had no data
/// at all: a clean report over packages nothing was checked against must say so.
public struct Coverage: Sendable, Hashable, Codable {
    /// A namespace (`Alpine:v3.10`, `PyPI`) whose packages the image holds but whose advisories
    /// were not evaluated for them, with how many packages went unchecked and why.
    public struct Gap: Sendable, Hashable, Codable {
        public enum Reason: String, Sendable, Hashable, Codable, CaseIterable {
            /// The advisory data has nothing for the namespace.
            case noAdvisories = "no-advisories"
            /// Advisories exist, but fathom cannot order the namespace's versions.
            case noVersionOrdering = "no-version-ordering"
            /// fathom maps no advisory namespace to these packages (an SBOM's `pkg:hex`, …).
            case unsupportedEcosystem = "unsupported-ecosystem"
            /// The packages' versions break their ecosystem's rules, so no range can hold them.
            case invalidVersions = "invalid-versions"
            /// The packages' names are not whole (a Java archive's artifact with no groupId)
            /// while advisories name that artifact under a group that could not be taken as
            /// its own (several groups, or a one-word id): which apply is unknown.
            case incompleteNames = "incomplete-names"
            /// OS packages of another type than the OS release's advisories are written for
            /// (`apk` packages in a `Debian:12` image, as an SBOM or `--os` can say).
            case otherPackageType = "other-package-type"

            /// What a fleet's "Not checked" says of it after the namespace.
            public var phrase: String {
                switch self {
                case .noAdvisories: "no advisory data"
                case .noVersionOrdering: "no version ordering"
                case .unsupportedEcosystem: "no advisory source"
                case .invalidVersions: "versions that break the ecosystem's rules"
                case .incompleteNames: "names without a groupId"
                case .otherPackageType: "OS packages of another type"
                }
            }
        }

        public var namespace: String
        public var packages: Int
        /// An OS namespace (distribution release) rather than a language ecosystem.
        public var isOS: Bool
        /// Nil in reports written before reasons were kept: no advisories.
        public var reason: Reason?
        /// One package of the gap and what is wrong with it, for invalid versions.
        public var example: String?

        public init(namespace: String, packages: Int, isOS: Bool, reason: Reason = .noAdvisories, example: String? = nil) {
            self.namespace = namespace
            self.packages = packages
            self.isOS = isOS
            self.reason = reason
            self.example = example
        }

        /// The gap as a fleet counts images by it: the namespace for one without advisories,
        /// else the namespace and why (`Debian:12: OS packages of another type`).
        public var name: String {
            guard let reason, reason != .noAdvisories else { return namespace }
            return "\(namespace): \(reason.phrase)"
        }

        public var message: String {
            let counted = "\(packages) \(isOS ? "OS package" : "package")\(packages == 1 ? " was" : "s were") not checked"
            switch reason ?? .noAdvisories {
            case .noAdvisories: return "no advisories for \(namespace): its \(counted)"
            case .noVersionOrdering:
                return "advisories for \(namespace) cannot be evaluated (fathom has no version ordering for it): its \(counted)"
            case .unsupportedEcosystem: return "fathom has no advisory source for \(namespace) packages: their \(counted)"
            case .invalidVersions:
                return "\(namespace) versions that break the ecosystem's rules: \(counted)\(example.map { " (\($0))" } ?? "")"
            case .incompleteNames:
                return "\(namespace) packages named without a groupId (a Java archive with no pom.properties whose manifest names none): "
                    + "\(counted)\(example.map { " (\($0))" } ?? "")"
            case .otherPackageType:
                return "\(namespace)'s advisories are for \(OSRelease.packageType(ofNamespace: namespace)) packages: \(counted)"
                    + "\(example.map { " (\($0))" } ?? "")"
            }
        }
    }

    /// Whether the packages of `ecosystem` (a package's: `apk`, `pypi`) went unchecked as a
    /// whole: the OS not identified, or their namespace with no advisories, no version ordering
    /// or no source. A finding of the previous scan there is not known to be resolved. A gap of
    /// some packages only (versions that break the rules, names without a group) or of another
    /// ecosystem (an image moved from Alpine to Debian) leaves the others' changes as they are.
    public func leavesUnchecked(ecosystem: String) -> Bool {
        let whole: Set<Gap.Reason> = [.noAdvisories, .noVersionOrdering, .unsupportedEcosystem]
        let wide = gaps.filter { whole.contains($0.reason ?? .noAdvisories) }
        if Package.osEcosystems.contains(ecosystem) {
            return osPackagesWithoutRelease > 0 || wide.contains { $0.isOS && OSRelease.packageType(ofNamespace: $0.namespace) == ecosystem }
                || osReleaseWithoutPackages.map { OSRelease.packageType(ofNamespace: $0) == ecosystem } == true
        }
        let namespace = AdvisoryIndex.lookup(for: Package(ecosystem: ecosystem, name: "", version: "", path: ""), osNamespace: nil)?.ecosystem ?? ecosystem
        return wide.contains { !$0.isOS && ($0.namespace == namespace || $0.namespace == ecosystem) }
    }

    /// Namespaces with advisory data that the image's packages were checked against.
    public var checkedAgainst: [String]
    public var gaps: [Gap]
    /// OS packages that could not be checked because the image's OS was not identified.
    public var osPackagesWithoutRelease: Int
    /// No package at all and no OS release with advisories (busybox, an empty file system, a
    /// `rootfs:` above the root, an SBOM that lists nothing): nothing was checked. Nil in
    /// reports written before it was kept.
    public var nothingToCheck: Bool?
    /// The OS release's advisory namespace (`Alpine:v3.7`) when the release was identified but
    /// none of its packages was found: its package database deleted, hidden by a later layer or
    /// in a form fathom does not read, or an SBOM that lists none. None of its packages was
    /// checked, so the image is not clean. Nil otherwise, and in reports written before it was kept.
    public var osReleaseWithoutPackages: String?

    public init(_ packages: [InventoryEntry], osNamespace: String?, lookup: any AdvisoryLookup) {
        let available = lookup.namespaces
        var checked = Set<String>()
        struct Missing {
            var namespace: String
            var count = 0
            var isOS: Bool
            var reason: Gap.Reason
            var example: String?
        }
        var missing: [String: Missing] = [:]
        func miss(_ namespace: String, isOS: Bool, _ reason: Gap.Reason, example: @autoclosure () -> String? = nil) {
            let key = "\(reason.rawValue)\u{0}\(namespace)"
            if missing[key] == nil { missing[key] = Missing(namespace: namespace, isOS: isOS, reason: reason, example: example()) }
            missing[key]!.count += 1
        }
        var unidentified = 0
        for entry in packages {
            let isOS = entry.package.isOSPackage
            if isOS, let osNamespace, OSRelease.packageType(ofNamespace: osNamespace) != entry.package.ecosystem {
                miss(osNamespace, isOS: true, .otherPackageType, example: "\(entry.package.ecosystem) \(entry.package.name) \(entry.package.version)")
                continue
            }
            guard let key = AdvisoryIndex.lookup(for: entry.package, osNamespace: osNamespace) else {
                if isOS { unidentified += 1 } else { miss(entry.package.ecosystem, isOS: false, .unsupportedEcosystem) }
                continue
            }
            guard available.contains(key.ecosystem) else {
                miss(key.ecosystem, isOS: isOS, .noAdvisories)
                continue
            }
            guard let comparator = EcosystemVersions.comparator(forOSV: key.ecosystem) else {
                miss(key.ecosystem, isOS: isOS, .noVersionOrdering)
                continue
            }
            // No version at all (an SBOM's package without one) is checked against nothing,
            // whatever the ecosystem's ordering would make of an empty text.
            if key.version.isEmpty {
                miss(key.ecosystem, isOS: isOS, .invalidVersions, example: "\(entry.package.name): no version given")
                continue
            }
            // A Go binary's main module built from a checkout has no version ("(devel)"): it is
            // the image's own code, not a published module advisories could name.
            if key.ecosystem == "Go" && key.version == "(devel)" {
                checked.insert(key.ecosystem)
                continue
            }
            // Maven advisories name `groupId:artifactId`; an artifact alone matches none of them.
            // When none names that artifact under any group, none could apply (the image's own
            // jar); when it was matched under the one group they name (`mavenName(ofArtifact:)`),
            // it was checked. Otherwise (several groups, or a one-word id) it was not, and the
            // example names what the advisories name.
            if key.ecosystem == "Maven" && !key.name.contains(":") {
                let candidates = lookup.mavenNames(ofArtifact: key.name)
                if candidates.isEmpty {
                    checked.insert(key.ecosystem)
                    continue
                }
                if lookup.mavenName(ofArtifact: entry.package) == nil {
                    miss(
                        key.ecosystem, isOS: false, .incompleteNames,
                        example: "\(key.name) \(key.version) in \(entry.package.path); advisories name \(candidates.prefix(3).joined(separator: ", "))")
                    continue
                }
            }
            do {
                try comparator.validate(key.version)
                checked.insert(key.ecosystem)
            } catch {
                miss(key.ecosystem, isOS: isOS, .invalidVersions, example: "\(entry.package.name): \(error)")
            }
        }
        checkedAgainst = checked.sorted()
        gaps = missing.values.map { Gap(namespace: $0.namespace, packages: $0.count, isOS: $0.isOS, reason: $0.reason, example: $0.example) }
            .sorted { ($1.isOS ? 1 : 0, $0.namespace, $0.reason?.rawValue ?? "") < ($0.isOS ? 1 : 0, $1.namespace, $1.reason?.rawValue ?? "") }
        osPackagesWithoutRelease = unidentified
        nothingToCheck = packages.isEmpty && osNamespace == nil ? true : nil
        osReleaseWithoutPackages = osNamespace.flatMap { namespace in packages.contains { $0.package.isOSPackage } ? nil : namespace }
    }

    /// Whether some packages were not checked against anything.
    public var isIncomplete: Bool { !gaps.isEmpty || osPackagesWithoutRelease > 0 || nothingToCheck == true || osReleaseWithoutPackages != nil }

    /// The gaps as a fleet counts images by them: each namespace without advisory data, and
    /// "OS not identified".
    public var gapNames: [String] {
        gaps.map(\.name) + (osPackagesWithoutRelease > 0 ? [Self.osNotIdentified] : []) + (nothingToCheck == true ? [Self.nothingFound] : [])
            + (osReleaseWithoutPackages.map { [Self.noPackageDatabase($0)] } ?? [])
    }

    /// The gap of an OS release identified with none of its packages found.
    public static func noPackageDatabase(_ release: String) -> String { "\(release): no package database found" }

    /// What is said of an OS release identified with none of its packages found.
    public static func noPackageDatabaseWarning(_ release: String) -> String {
        "\(release) was identified, but no package database fathom reads was found (deleted, hidden by a later layer, left out by "
            + "--skip-dirs, or in another form): its OS packages were not checked"
    }

    /// The gap of an image with no OS release and no package fathom reads.
    public static let nothingFound = "no OS and no package found"

    /// The gap of OS packages in an image whose OS release was not identified.
    public static let osNotIdentified = "OS not identified"

    /// One line per gap, for reports' warnings.
    public var warnings: [String] { warnings(unsupportedOS: nil) }

    /// One line per gap; `unsupportedOS` names an OS release that was identified but is one
    /// fathom has no advisory namespace for (Oracle Linux), which is why its packages were not checked.
    public func warnings(unsupportedOS: String?) -> [String] {
        var lines = gaps.map(\.message)
        if let osReleaseWithoutPackages { lines.append(Self.noPackageDatabaseWarning(osReleaseWithoutPackages)) }
        if nothingToCheck == true {
            lines.append(
                "no OS release and no package fathom reads were found: nothing was checked (an image of static binaries or an empty "
                    + "file system, a rootfs: directory that is not the root of one, or an SBOM that lists nothing)")
        }
        if osPackagesWithoutRelease > 0 {
            let counted = "its \(osPackagesWithoutRelease) OS package\(osPackagesWithoutRelease == 1 ? " was" : "s were") not checked"
            lines.append(
                unsupportedOS.map { "\($0) was identified, but fathom has no advisories for this distribution or release: \(counted)" }
                    ?? "the image's OS release was not identified: \(counted)")
        }
        return lines
    }
}
