import FathomCore
public import FathomAdvisory
public import FathomInventory
import Foundation

/// What `StoredAdvisories` reads from a store: which (ecosystem, package) each advisory names,
/// the records themselves by id, and CVSS scores by vulnerability id.
public protocol AdvisoryRecordReader: Sendable {
    /// Every (source, id, OSV ecosystem, package name) of the stored advisories.
    func advisoryPackages() async throws -> [(source: String, id: String, ecosystem: String, name: String)]
    /// Stored advisories that are not withdrawn.
    func liveAdvisoryCount() async throws -> Int
    /// Vulnerabilities with a stored KEV entry, and with a stored EPSS score.
    func exploitationCounts() async throws -> (kev: Int, epss: Int)
    /// The JSON of each asked record (source, id) that is stored.
    func advisoryRecords(_ ids: [(source: String, id: String)]) async throws -> [(source: String, id: String, json: [UInt8])]
    /// Every CVSS score stored for each id (an id without scores is absent).
    func cvssScores(for ids: [String]) async throws -> [String: [CVSSScore]]
    /// The exploitation data stored for each id, every feed's together (an id without any is absent).
    func exploitation(for ids: [String]) async throws -> [String: Exploitation]
}

public final class StoredAdvisories: AdvisoryLookup {
    struct Key: Hashable, Sendable {
        var ecosystem: String
        var name: String
    }

    struct RecordID: Hashable, Sendable {
        var source: String
        var id: String
    }

    private let reader: any AdvisoryRecordReader
    private let recordsByKey: [Key: [RecordID]]
    public let recordCount: Int
    public let exploitationCounts: (kev: Int, epss: Int)
    public let namespaces: Set<String>
    private let buckets = Locked<[Key: AdvisoryIndex]>([:])
    /// CVSS scores by vulnerability id, for the ids asked so far (an empty list: none known).
    private let scoresByID = Locked<[String: [CVSSScore]]>([:])
    /// Exploitation data by vulnerability id, for the ids asked so far (nil: none known).
    private let exploitationByID = Locked<[String: Exploitation?]>([:])
    private let problems = Locked<[String]>([])

    public static func open(_ reader: any AdvisoryRecordReader) async throws -> StoredAdvisories {
        var byKey: [Key: Set<RecordID>] = [:]
        for row in try await reader.advisoryPackages() {
            let ecosystem = OSNamespaces.release(of: row.ecosystem)
            byKey[Key(ecosystem: ecosystem, name: AdvisoryIndex.normalize(row.name, ecosystem: ecosystem)), default: []]
                .insert(RecordID(source: row.source, id: row.id))
        }
        return StoredAdvisories(
            reader: reader, recordsByKey: byKey.mapValues { $0.sorted { ($0.source, $0.id) < ($1.source, $1.id) } },
            recordCount: try await reader.liveAdvisoryCount(), exploitationCounts: try await reader.exploitationCounts())
    }

    private init(reader: any AdvisoryRecordReader, recordsByKey: [Key: [RecordID]], recordCount: Int, exploitationCounts: (kev: Int, epss: Int)) {
        self.exploitationCounts = exploitationCounts
        self.reader = reader
        self.recordsByKey = recordsByKey
        self.recordCount = recordCount
        namespaces = Set(recordsByKey.keys.map(\.ecosystem))
        var maven: [String: [String]] = [:]
        for key in recordsByKey.keys where key.ecosystem == "Maven" {
            guard let colon = key.name.lastIndex(of: ":") else { continue }
            maven[String(key.name[key.name.index(after: colon)...]), default: []].append(key.name)
        }
        mavenByArtifact = maven.mapValues { $0.sorted() }
    }

    /// Maven names by artifact id, for Java archives that name no group.
    private let mavenByArtifact: [String: [String]]

    public func mavenNames(ofArtifact artifact: String) -> [String] { mavenByArtifact[artifact] ?? [] }

    /// Records that could not be decoded (left out of matching), with the reason.
    public var warnings: [String] { problems.withLock { $0 } }

    private func key(for package: Package, osNamespace: String?) -> Key? {
        guard let lookup = AdvisoryIndex.lookup(for: package, osNamespace: osNamespace) else { return nil }
        return Key(ecosystem: lookup.ecosystem, name: lookup.name)
    }

    public func prepare(_ packages: [Package], osNamespace: String?) async throws {
        let wanted = Set(packages.compactMap { key(for: $0, osNamespace: osNamespace) }).filter { recordsByKey[$0] != nil }
        let missing = buckets.withLock { built in wanted.filter { built[$0] == nil } }
        guard !missing.isEmpty else { return }
        let requests = missing.map { ($0, recordsByKey[$0] ?? []) }
        let rows = try await reader.advisoryRecords(requests.flatMap { $0.1.map { (source: $0.source, id: $0.id) } })
        var json: [RecordID: [UInt8]] = [:]
        for row in rows { json[RecordID(source: row.source, id: row.id)] = row.json }
        var built: [Key: AdvisoryIndex] = [:]
        var failures: [String] = []
        for (key, ids) in requests { built[key] = Self.build(ids, json: json, failures: &failures) }
        buckets.withLock { $0.merge(built) { current, _ in current } }
        if !failures.isEmpty { problems.withLock { $0 += failures } }
    }

    public func match(_ package: Package, osNamespace: String?) -> [AdvisoryIndex.Match] {
        guard let key = key(for: package, osNamespace: osNamespace), recordsByKey[key] != nil else { return [] }
        guard let index = buckets.withLock({ $0[key] }) else {
            // A caller that skipped `prepare` would get a silent empty answer: say so loudly.
            assertionFailure("StoredAdvisories.match before prepare for \(key)")
            problems.withLock { $0.append("advisories of \(key.ecosystem)/\(key.name) were not loaded before matching") }
            return []
        }
        return index.match(package, osNamespace: osNamespace)
    }

    public func scores(for ids: Set<String>) async throws -> [String: [CVSSScore]] {
        let missing = scoresByID.withLock { known in ids.filter { known[$0] == nil } }
        if !missing.isEmpty {
            var found = try await reader.cvssScores(for: Array(missing))
            for id in missing where found[id] == nil { found[id] = [] }
            scoresByID.withLock { $0.merge(found) { current, _ in current } }
        }
        return scoresByID.withLock { known in
            var answer: [String: [CVSSScore]] = [:]
            for id in ids { if let scores = known[id], !scores.isEmpty { answer[id] = scores } }
            return answer
        }
    }

    /// Read once per id for the life of the lookup, as the scores are: a fleet asks for the same
    /// vulnerabilities image after image.
    public func exploitation(for ids: Set<String>) async throws -> [String: Exploitation] {
        let missing = exploitationByID.withLock { known in ids.filter { known[$0] == nil } }
        if !missing.isEmpty {
            let found = try await reader.exploitation(for: missing.sorted())
            exploitationByID.withLock { known in
                for id in missing where known[id] == nil { known[id] = .some(found[id]) }
            }
        }
        return exploitationByID.withLock { known in
            var answer: [String: Exploitation] = [:]
            for id in ids { if let facts = known[id] ?? nil { answer[id] = facts } }
            return answer
        }
    }

    private static func build(_ ids: [RecordID], json: [RecordID: [UInt8]], failures: inout [String]) -> AdvisoryIndex {
        let decoder = JSONDecoder()
        var bySource: [String: [OSVRecord]] = [:]
        for id in ids {
            guard let bytes = json[id] else { continue }
            do {
                bySource[id.source, default: []].append(try decoder.decode(OSVRecord.self, from: Data(bytes)))
            } catch {
                failures.append("advisory \(id.id) from \(id.source) could not be read: \(error)")
            }
        }
        var index = AdvisoryIndex()
        for (source, records) in bySource.sorted(by: { $0.key < $1.key }) { index.add(records, source: source) }
        return index
    }
}

