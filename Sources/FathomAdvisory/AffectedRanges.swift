// OSV range evaluation (https://ossf.github.io/osv-schema/#evaluation): events sorted by
// version; `introduced` opens, `fixed` closes (exclusive), `last_affected` closes (inclusive);
// `limit` bounds the whole range from above.
public import FathomVersion

/// The version ordering of an OSV ecosystem (`Debian:12` → dpkg, `PyPI` → PEP 440 …).
public enum EcosystemVersions {
    public static func comparator(forOSV ecosystem: String) -> (any VersionComparator)? {
        let base = ecosystem.split(separator: ":").first.map(String.init) ?? ecosystem
        switch base {
        case "Debian", "Ubuntu": return DpkgVersion()
        case "Alpine", "Wolfi", "Chainguard": return ApkVersion()
        case "Red Hat", "AlmaLinux", "Rocky Linux", "SUSE", "openSUSE", "Mariner", "Azure Linux", "Amazon Linux", "Fedora":
            return RpmVersion()
        case "PyPI": return PEP440Version()
        case "npm", "crates.io", "Go", "Hex", "Pub": return SemanticVersion(flavour: .loose)
        case "Maven": return MavenVersion()
        case "RubyGems": return RubyGemsVersion()
        case "Packagist": return ComposerVersion()
        case "NuGet": return NuGetVersion()
        default: return nil
        }
    }
}

/// Why a version is affected, or not.
public enum RangeVerdict: Equatable, Sendable {
    case notAffected
    /// Affected; `fixed` is the version that ends the range holding it, if the range has one.
    case affected(fixed: String?)
}

extension OSVRecord.Affected {
    /// Evaluates `version` against the explicit `versions` list and every ECOSYSTEM/SEMVER range.
    /// `eventsSorted` skips sorting when the index already sorted the events once.
    public func evaluate(_ version: String, comparator: any VersionComparator, eventsSorted: Bool = false) -> RangeVerdict {
        if let versions, versions.contains(version) {
            return .affected(fixed: fixedVersion(after: version, comparator: comparator))
        }
        for range in ranges ?? [] where range.type == "ECOSYSTEM" || range.type == "SEMVER" {
            if case .affected(let fixed) = Self.evaluate(version, range, comparator: comparator, eventsSorted: eventsSorted) {
                return .affected(fixed: fixed)
            }
        }
        return .notAffected
    }

    /// The lowest `fixed` above `version` across the ranges, for `versions`-list matches.
    func fixedVersion(after version: String, comparator: any VersionComparator) -> String? {
        let fixes = (ranges ?? []).flatMap { $0.events.compactMap(\.fixed) }
        return fixes.filter { (try? comparator.compare($0, version)) == .greater }
            .min { (try? comparator.compare($0, $1)) == .less }
    }

    /// The affected entry with each range's events in version order (done once, at indexing).
    func sortingEvents(comparator: any VersionComparator) -> OSVRecord.Affected {
        var copy = self
        copy.ranges = ranges?.map { range in
            var sorted = range
            sorted.events = range.events.sorted { Self.compare(Self.eventVersion($0), Self.eventVersion($1), comparator) == .less }
            return sorted
        }
        return copy
    }

    static func eventVersion(_ event: OSVRecord.Event) -> String {
        event.introduced ?? event.fixed ?? event.lastAffected ?? event.limit ?? "0"
    }

    /// "0" as introduced means "every version", whatever the ecosystem's syntax.
    static func compare(_ a: String, _ b: String, _ comparator: any VersionComparator) -> ComparisonResult? {
        if a == "0" && b == "0" { return .equal }
        if a == "0" { return .less }
        if b == "0" { return .greater }
        return try? comparator.compare(a, b)
    }

    static func evaluate(
        _ version: String, _ range: OSVRecord.Range, comparator: any VersionComparator, eventsSorted: Bool = false
    ) -> RangeVerdict {
        func compare(_ a: String, _ b: String) -> ComparisonResult? { Self.compare(a, b, comparator) }
        let limits = range.events.compactMap(\.limit)
        if !limits.isEmpty, !limits.contains(where: { compare(version, $0) == .less }) { return .notAffected }
        let unsorted = range.events.filter { $0.limit == nil }
        let events = eventsSorted ? unsorted : unsorted.sorted { compare(Self.eventVersion($0), Self.eventVersion($1)) == .less }
        var affected = false
        var fixed: String?
        for event in events {
            if let introduced = event.introduced {
                guard let order = compare(version, introduced) else { continue }
                if order != .less { affected = true; fixed = nil }
            } else if let fix = event.fixed {
                guard let order = compare(version, fix) else { continue }
                if order != .less {
                    affected = false
                } else if affected && fixed == nil {
                    fixed = fix
                }
            } else if let last = event.lastAffected {
                guard let order = compare(version, last) else { continue }
                if order == .greater { affected = false }
            }
        }
        return affected ? .affected(fixed: fixed) : .notAffected
    }
}

