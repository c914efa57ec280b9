public import FathomInventory

/// Which advisory namespaces an image's packages were checked against, and which had no data
/// at all: a clean report over packages nothing was checked against must say so.
public struct Coverage: Sendable, Hashable, Codable {
    /// A namespace (`Alpine:v3.10`, `PyPI`) the image holds packages for but the advisory data
    /// has nothing for, with how many packages went unchecked.
    public struct Gap: Sendable, Hashable, Codable {
        public var namespace: String
        public var packages: Int
        /// An OS namespace (distribution release) rather than a language ecosystem.
        public var isOS: Bool

        public var message: String {
            "no advisories for \(namespace): its \(packages) \(isOS ? "OS package" : "package")\(packages == 1 ? " was" : "s were") not checked"
        }
    }

    /// Namespaces with advisory data that the image's packages were checked against.
    public var checkedAgainst: [String]
    public var gaps: [Gap]
    /// OS packages that could not be checked because the image's OS was not identified.
    public var osPackagesWithoutRelease: Int

    public init(_ packages: [InventoryEntry], osNamespace: String?, lookup: any AdvisoryLookup) {
        let available = lookup.namespaces
        var checked = Set<String>()
        var missing: [String: (count: Int, isOS: Bool)] = [:]
        var unidentified = 0
        for entry in packages {
            let isOS = ["deb", "apk", "rpm"].contains(entry.package.ecosystem)
            guard let key = AdvisoryIndex.lookup(for: entry.package, osNamespace: osNamespace) else {
                if isOS { unidentified += 1 }
                continue
            }
            if available.contains(key.ecosystem) {
                checked.insert(key.ecosystem)
            } else {
                missing[key.ecosystem, default: (0, isOS)].count += 1
            }
        }
        checkedAgainst = checked.sorted()
        gaps = missing.map { Gap(namespace: $0.key, packages: $0.value.count, isOS: $0.value.isOS) }
            .sorted { ($1.isOS ? 1 : 0, $0.namespace) < ($0.isOS ? 1 : 0, $1.namespace) }
        osPackagesWithoutRelease = unidentified
    }

    /// Whether some packages were not checked against anything.
    public var isIncomplete: Bool { !gaps.isEmpty || osPackagesWithoutRelease > 0 }

    /// One line per gap, for reports' warnings.
    public var warnings: [String] {
        var lines = gaps.map(\.message)
        if osPackagesWithoutRelease > 0 {
            lines.append(
                "the image's OS release was not identified: its \(osPackagesWithoutRelease) OS package\(osPackagesWithoutRelease == 1 ? " was" : "s were") not checked")
        }
        return lines
    }
}
