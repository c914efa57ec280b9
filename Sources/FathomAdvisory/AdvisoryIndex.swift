import FathomCore
public import FathomInventory
import FathomVersion

/// Where matching finds advisories: an index built in memory, or one a store fills on demand.
public protocol AdvisoryLookup: Sendable {
    /// Loads whatever `match` needs for `packages` (a store reads their advisories here, off
    /// the caller's thread); `match` itself only reads memory.
    func prepare(_ packages: [Package], osNamespace: String?) async throws
    /// The advisories affecting `package` at its version (after `prepare` of that package).
    func match(_ package: Package, osNamespace: String?) -> [AdvisoryIndex.Match]
    /// Advisories available (0: no advisory data at all).
    var recordCount: Int { get }
    /// The OSV ecosystems and OS namespaces (`Alpine:v3.7`, `PyPI`) that have any advisory.
    var namespaces: Set<String> { get }
    /// Every CVSS score any source gives for these vulnerability ids (CVE, GHSA…): NVD's
    /// records, and the vectors of advisories that name the id or alias it.
    func scores(for ids: Set<String>) async throws -> [String: [CVSSScore]]
    /// What CISA KEV and EPSS say of these vulnerability ids (an id they do not list is absent).
    func exploitation(for ids: Set<String>) async throws -> [String: Exploitation]
    /// Vulnerabilities CISA's KEV lists, and vulnerabilities EPSS scores (0: no such feed imported).
    var exploitationCounts: (kev: Int, epss: Int) { get }
    /// The Maven packages (`group:artifact`) advisories name with this artifact id: what a
    /// Java archive that names no group could be.
    func mavenNames(ofArtifact artifact: String) -> [String]
}

extension AdvisoryLookup {
    /// The name a Java archive's artifact that names no group (Spring's Gradle-built jars have
    /// no pom.properties) is matched as: the one `group:artifact` the advisories name with that
    /// artifact id, as Trivy takes the group from its index of Maven Central. Only for an id with
    /// a dash (`spring-beans`): a one-word id (`json`, `core`, an in-house `gateway`) is too
    /// likely another project's. Nil when the name has a group already, or none can be taken.
    public func mavenName(ofArtifact package: Package) -> String? {
        guard package.ecosystem == "maven", !package.name.contains(":"), package.name.contains("-") else { return nil }
        let candidates = mavenNames(ofArtifact: package.name)
        return candidates.count == 1 ? candidates[0] : nil
    }

    /// `package` as matching looks it up (`mavenName(ofArtifact:)`); the finding keeps the
    /// inventory's name, so that reports, changes and re-matches join it to its package.
    public func matchedAs(_ package: Package) -> Package {
        guard let name = mavenName(ofArtifact: package) else { return package }
        var resolved = package
        resolved.name = name
        return resolved
    }
}

extension AdvisoryIndex {
    /// Everything is in memory already.
    public func prepare(_ packages: [Package], osNamespace: String?) async throws {}

    public func mavenNames(ofArtifact artifact: String) -> [String] {
        buckets.keys.filter { $0.ecosystem == "Maven" && $0.name.hasSuffix(":" + artifact) }.map(\.name).sorted()
    }

    public func scores(for ids: Set<String>) async throws -> [String: [CVSSScore]] {
        var found: [String: [CVSSScore]] = [:]
        for id in ids { if let scores = scoresByID[id] { found[id] = scores } }
        return found
    }

    public var exploitationCounts: (kev: Int, epss: Int) {
        (exploitationByID.values.filter { $0.kev != nil }.count, exploitationByID.values.filter { $0.epss != nil }.count)
    }

    public func exploitation(for ids: Set<String>) async throws -> [String: Exploitation] {
        var found: [String: Exploitation] = [:]
        for id in ids { if let facts = exploitationByID[id] { found[id] = facts } }
        return found
    }
}

/// Advisories indexed by (OSV ecosystem, package name), built once per process so matching an
/// image is hash lookups plus version comparisons.
public struct AdvisoryIndex: AdvisoryLookup {
    struct Entry: Sendable {
        var record: OSVRecord
        var affected: OSVRecord.Affected
        var source: String
        /// Computed once at indexing (CVSS vectors are parsed here, not per finding).
        var rating: Rating
        var references: [String]
    }

    struct Key: Hashable, Sendable {
        var ecosystem: String
        var name: String
    }

    /// A ranged event: its version's position among the bucket's boundaries.
    struct RankedEvent: Sendable {
        enum Kind: Sendable { case introduced, fixed, lastAffected }
        var kind: Kind
        /// `2k + 1` for boundary `k`; -1 for "0" (below every version).
        var position: Int
        var version: String
    }

    struct RankedRange: Sendable {
        var events: [RankedEvent]
        var limits: [Int]
    }

    /// Every advisory of one (ecosystem, name), with the distinct versions its events name put
    /// in order once, so a match places the installed version among them with a binary search
    /// and then compares integers instead of versions.
    struct Bucket: Sendable {
        var entries: [Entry] = []
        /// One representative string per distinct version, in order; nil when some version
        /// could not be ordered (then entries are evaluated one comparison at a time).
        var boundaries: [String]?
        /// Per entry: its ECOSYSTEM/SEMVER ranges, ranked.
        var ranked: [[RankedRange]] = []
    }

    private var buckets: [Key: Bucket] = [:]
    /// CVSS scores by vulnerability id and alias, from every record added and `addScores`.
    private var scoresByID: [String: [CVSSScore]] = [:]
    /// Exploitation data by CVE id, from `addExploitation`.
    private var exploitationByID: [String: Exploitation] = [:]
    public private(set) var recordCount = 0
    public private(set) var namespaces: Set<String> = []

    public init() {}

    /// Adds records from `source` (the feed's name, reported with each finding). Withdrawn
    /// records are kept out.
    public mutating func add(_ records: [OSVRecord], source: String) {
        var touched = Set<Key>()
        for record in records where record.withdrawn == nil {
            recordCount += 1
            let rating = Rating(record: record, source: source)
            if !rating.scores.isEmpty {
                for id in [record.id] + record.relatedIDs { scoresByID[id, default: []] += rating.scores }
            }
            for affected in record.affected ?? [] {
                guard let package = affected.package else { continue }
                let ecosystem = OSNamespaces.release(of: package.ecosystem)
                let key = Key(ecosystem: ecosystem, name: Self.normalize(package.name, ecosystem: ecosystem))
                namespaces.insert(ecosystem)
                // Events are sorted once here, not at every match.
                let prepared = EcosystemVersions.comparator(forOSV: package.ecosystem).map { affected.sortingEvents(comparator: $0) }
                buckets[key, default: Bucket()].entries.append(
                    Entry(
                        record: record, affected: prepared ?? affected, source: source,
                        rating: affected.severity == nil && affected.ecosystemSpecific == nil && affected.databaseSpecific == nil
                            ? rating : Rating(record: record, affected: affected, source: source),
                        references: record.orderedReferences))
                touched.insert(key)
            }
        }
        for key in touched {
            guard let comparator = EcosystemVersions.comparator(forOSV: key.ecosystem) else { continue }
            buckets[key] = Self.rank(buckets[key]!, comparator: comparator)
        }
    }

    /// Adds exploitation data (CISA KEV, EPSS) by CVE id.
    public mutating func addExploitation(_ facts: [String: Exploitation]) {
        exploitationByID.merge(facts) { $0.merging($1) }
    }

    /// Adds severity-only data (NVD's CVSS scores by CVE id).
    public mutating func addScores(_ scores: [String: [CVSSScore]]) {
        for (id, list) in scores { scoresByID[id, default: []] += list }
    }

    /// Orders the bucket's distinct event versions and ranks every range's events.
    static func rank(_ bucket: Bucket, comparator: any VersionComparator) -> Bucket {
        var result = bucket
        result.boundaries = nil
        result.ranked = []
        let ranges = bucket.entries.map { ($0.affected.ranges ?? []).filter { $0.type == "ECOSYSTEM" || $0.type == "SEMVER" } }
        var versions = Set<String>()
        for entryRanges in ranges {
            for range in entryRanges {
                for event in range.events {
                    let version = OSVRecord.Affected.eventVersion(event)
                    if version != "0" { versions.insert(version) }
                }
            }
        }
        // Every version must be orderable for ranking to be exact.
        for version in versions where (try? comparator.compare(version, version)) == nil { return result }
        let sorted = versions.sorted { (try? comparator.compare($0, $1)) == .less || ((try? comparator.compare($0, $1)) == .equal && $0 < $1) }
        var slots: [String] = []
        var slotOf: [String: Int] = [:]
        for version in sorted {
            if let last = slots.last, (try? comparator.compare(last, version)) == .equal {
                slotOf[version] = slots.count - 1
            } else {
                slots.append(version)
                slotOf[version] = slots.count - 1
            }
        }
        func position(_ version: String) -> Int { version == "0" ? -1 : 2 * slotOf[version]! + 1 }
        result.ranked = ranges.map { entryRanges in
            entryRanges.map { range in
                var events: [RankedEvent] = []
                var limits: [Int] = []
                for event in range.events {
                    if let limit = event.limit {
                        limits.append(position(limit))
                    } else if let introduced = event.introduced {
                        events.append(RankedEvent(kind: .introduced, position: position(introduced), version: introduced))
                    } else if let fixed = event.fixed {
                        events.append(RankedEvent(kind: .fixed, position: position(fixed), version: fixed))
                    } else if let last = event.lastAffected {
                        events.append(RankedEvent(kind: .lastAffected, position: position(last), version: last))
                    }
                }
                return RankedRange(events: events, limits: limits)
            }
        }
        result.boundaries = slots
        return result
    }

    /// Where `version` falls among the boundaries: `2k + 1` if equal to boundary `k`, else `2k`
    /// where `k` boundaries are below it; nil if it cannot be compared.
    static func position(of version: String, in boundaries: [String], comparator: any VersionComparator) -> Int? {
        var low = 0
        var high = boundaries.count
        while low < high {
            let middle = (low + high) / 2
            guard let order = try? comparator.compare(boundaries[middle], version) else { return nil }
            switch order {
            case .less: low = middle + 1
            case .greater: high = middle
            case .equal: return 2 * middle + 1
            }
        }
        return 2 * low
    }

    /// The spec's evaluation over ranked events (same walk as `Affected.evaluate`).
    static func evaluate(_ ranges: [RankedRange], at position: Int) -> RangeVerdict {
        for range in ranges {
            if !range.limits.isEmpty, !range.limits.contains(where: { position < $0 }) { continue }
            var affected = false
            var fixed: String?
            for event in range.events {
                switch event.kind {
                case .introduced:
                    if position >= event.position {
                        affected = true
                        fixed = nil
                    }
                case .fixed:
                    if position >= event.position {
                        affected = false
                    } else if affected && fixed == nil {
                        fixed = event.version
                    }
                case .lastAffected:
                    if position > event.position { affected = false }
                }
            }
            if affected { return .affected(fixed: fixed) }
        }
        return .notAffected
    }

    /// Names compared the way each ecosystem does (PyPI: PEP 503 normalisation).
    public static func normalize(_ name: String, ecosystem: String) -> String {
        // NuGet ids and Composer names are case-insensitive (Packagist lists them lower-case).
        if ecosystem == "NuGet" || ecosystem == "Packagist" { return name.lowercased() }
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
            // An apk package is not in a Debian release's advisories (an SBOM's purls, or
            // `--os`, can put one there): no match, and coverage names it (`other-package-type`).
            guard let osNamespace, OSRelease.packageType(ofNamespace: osNamespace) == package.ecosystem else { return nil }
            // Debian and Alpine advisories name source packages; the rpm distributions' OSV
            // records (Red Hat, AlmaLinux, Rocky, SUSE) name each binary package.
            let name = package.ecosystem == "rpm" ? package.name : (package.source?.name ?? package.name)
            let version = package.ecosystem == "deb" ? (package.source?.version ?? package.version) : package.version
            return (osNamespace, name, version)
        case "pypi": return ("PyPI", normalize(package.name, ecosystem: "PyPI"), package.version)
        case "npm": return ("npm", package.name, package.version)
        case "go":
            return ("Go", package.name, package.version.hasPrefix("v") ? String(package.version.dropFirst()) : package.version)
        case "crates": return ("crates.io", package.name, package.version)
        case "maven": return ("Maven", package.name, package.version)
        case "composer": return ("Packagist", normalize(package.name, ecosystem: "Packagist"), package.version)
        case "gem": return ("RubyGems", package.name, package.version)
        case "nuget": return ("NuGet", normalize(package.name, ecosystem: "NuGet"), package.version)
        // Read from SBOMs only (purl types `hex`, `pub`).
        case "hex": return ("Hex", package.name, package.version)
        case "pub": return ("Pub", package.name, package.version)
        default: return nil
        }
    }

    /// The advisories affecting `package` at its version.
    public func match(_ package: Package, osNamespace: String?) -> [Match] {
        guard let lookup = Self.lookup(for: package, osNamespace: osNamespace),
            let bucket = buckets[Key(ecosystem: lookup.ecosystem, name: lookup.name)],
            let comparator = EcosystemVersions.comparator(forOSV: lookup.ecosystem),
            // A version the ordering rejects (a Composer dev branch), or none at all (an SBOM's
            // package without one, which Maven's and RubyGems' orderings would read as 0), is in
            // no range, whatever a range from 0 would say: coverage names it as a gap instead.
            !lookup.version.isEmpty, (try? comparator.validate(lookup.version)) != nil
        else { return [] }
        let position = bucket.boundaries.flatMap { Self.position(of: lookup.version, in: $0, comparator: comparator) }
        var matches: [Match] = []
        var seen = Set<String>()
        for (index, entry) in bucket.entries.enumerated() {
            var verdict: RangeVerdict
            if let position, entry.affected.versions == nil {
                verdict = Self.evaluate(bucket.ranked[index], at: position)
            } else {
                verdict = entry.affected.evaluate(lookup.version, comparator: comparator, eventsSorted: true)
            }
            guard case .affected(let fixed) = verdict, seen.insert(entry.record.id).inserted else { continue }
            matches.append(
                Match(
                    record: entry.record, affected: entry.affected, fixedVersion: fixed, source: entry.source,
                    rating: entry.rating, references: entry.references))
        }
        return matches
    }

    /// One advisory that affects one package.
    public struct Match: Sendable {
        public var record: OSVRecord
        public var affected: OSVRecord.Affected
        public var fixedVersion: String?
        public var source: String
        /// The advisory's own severity and scores (other sources' come later, by id).
        public var rating: Rating
        public var references: [String]
    }
}


/// Remembers the matches of each (ecosystem, name, version) across the images of a fleet:
/// images share base layers, so most packages recur exactly. Safe to share between tasks.
public final class MatchCache: Sendable {
    struct Key: Hashable {
        var ecosystem: String
        var name: String
        var version: String
        var namespace: String?
    }

    private let storage = Locked<[Key: [AdvisoryIndex.Match]]>([:])

    public init() {}

    public var count: Int { storage.withLock { $0.count } }

    func matches(_ package: Package, osNamespace: String?, index: any AdvisoryLookup) -> [AdvisoryIndex.Match] {
        // Keyed by what the index looks up, so equal keys always mean equal answers.
        guard let lookup = AdvisoryIndex.lookup(for: package, osNamespace: osNamespace) else { return [] }
        let key = Key(ecosystem: lookup.ecosystem, name: lookup.name, version: lookup.version, namespace: osNamespace)
        if let cached = storage.withLock({ $0[key] }) { return cached }
        let computed = index.match(package, osNamespace: osNamespace)
        storage.withLock { $0[key] = computed }
        return computed
    }
}
