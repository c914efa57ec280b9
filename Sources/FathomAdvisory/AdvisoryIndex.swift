public import FathomInventory

/// Advisories indexed by (OSV ecosystem, package name), built once per process so matching an
/// image is hash lookups plus version comparisons.
public struct AdvisoryIndex: Sendable {
    struct Entry: Sendable {
        var record: OSVRecord
        var affected: OSVRecord.Affected
        var source: String
    }

    struct Key: Hashable, Sendable {
        var ecosystem: String
        var name: String
    }

    private var entries: [Key: [Entry]] = [:]
    public private(set) var recordCount = 0

    public init() {}

    /// Adds records from `source` (the feed's name, reported with each finding). Withdrawn
    /// records are kept out.
    public mutating func add(_ records: [OSVRecord], source: String) {
        for record in records where record.withdrawn == nil {
            recordCount += 1
            for affected in record.affected ?? [] {
                guard let package = affected.package else { continue }
                let key = Key(ecosystem: package.ecosystem, name: Self.normalize(package.name, ecosystem: package.ecosystem))
                // Events are sorted once here, not at every match.
                let prepared = EcosystemVersions.comparator(forOSV: package.ecosystem).map { affected.sortingEvents(comparator: $0) }
                entries[key, default: []].append(Entry(record: record, affected: prepared ?? affected, source: source))
            }
        }
    }

    /// Names compared the way each ecosystem does (PyPI: PEP 503 normalisation).
    static func normalize(_ name: String, ecosystem: String) -> String {
        guard ecosystem == "PyPI" else { return name }
        var result = ""
        var lastWasSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !lastWasSeparator { result.append("-") }
                lastWasSeparator = true
            } else {
                result.append(character)
                lastWasSeparator = false
            }
        }
        return result
    }

    /// Where a package is looked up: OS packages by source package in the image's OS namespace,
    /// language packages in their ecosystem whatever the OS.
    public static func lookup(for package: Package, osNamespace: String?) -> (ecosystem: String, name: String, version: String)? {
        switch package.ecosystem {
        case "deb", "apk", "rpm":
            guard let osNamespace else { return nil }
            let name = package.source?.name ?? package.name
            let version = package.ecosystem == "deb" ? (package.source?.version ?? package.version) : package.version
            return (osNamespace, name, version)
        case "pypi": return ("PyPI", normalize(package.name, ecosystem: "PyPI"), package.version)
        case "npm": return ("npm", package.name, package.version)
        case "go":
            return ("Go", package.name, package.version.hasPrefix("v") ? String(package.version.dropFirst()) : package.version)
        case "crates": return ("crates.io", package.name, package.version)
        case "maven": return ("Maven", package.name, package.version)
        case "composer": return ("Packagist", package.name, package.version)
        case "gem": return ("RubyGems", package.name, package.version)
        default: return nil
        }
    }

    /// The advisories affecting `package` at its version.
    public func match(_ package: Package, osNamespace: String?) -> [Match] {
        guard let lookup = Self.lookup(for: package, osNamespace: osNamespace),
            let candidates = entries[Key(ecosystem: lookup.ecosystem, name: lookup.name)],
            let comparator = EcosystemVersions.comparator(forOSV: lookup.ecosystem)
        else { return [] }
        var matches: [Match] = []
        var seen = Set<String>()
        for entry in candidates {
            guard case .affected(let fixed) = entry.affected.evaluate(lookup.version, comparator: comparator, eventsSorted: true),
                seen.insert(entry.record.id).inserted
            else { continue }
            matches.append(Match(record: entry.record, affected: entry.affected, fixedVersion: fixed, source: entry.source))
        }
        return matches
    }

    /// One advisory that affects one package.
    public struct Match: Sendable {
        public var record: OSVRecord
        public var affected: OSVRecord.Affected
        public var fixedVersion: String?
        public var source: String
    }
}

import Synchronization

/// Remembers the matches of each (ecosystem, name, version) across the images of a fleet:
/// images share base layers, so most packages recur exactly. Safe to share between tasks.
public final class MatchCache: Sendable {
    struct Key: Hashable {
        var ecosystem: String
        var name: String
        var version: String
        var namespace: String?
    }

    private let storage = Mutex<[Key: [AdvisoryIndex.Match]]>([:])

    public init() {}

    public var count: Int { storage.withLock { $0.count } }

    func matches(_ package: Package, osNamespace: String?, index: AdvisoryIndex) -> [AdvisoryIndex.Match] {
        // Keyed by what the index looks up, so equal keys always mean equal answers.
        guard let lookup = AdvisoryIndex.lookup(for: package, osNamespace: osNamespace) else { return [] }
        let key = Key(ecosystem: lookup.ecosystem, name: lookup.name, version: lookup.version, namespace: osNamespace)
        if let cached = storage.withLock({ $0[key] }) { return cached }
        let computed = index.match(package, osNamespace: osNamespace)
        storage.withLock { $0[key] = computed }
        return computed
    }
}
