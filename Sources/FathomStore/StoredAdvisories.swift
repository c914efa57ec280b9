public import FathomAdvisory
public import FathomInventory
import Foundation
import Synchronization

/// The store's advisories as an `AdvisoryLookup` that decodes only what is asked for: at open
/// it reads which (ecosystem, package) each advisory affects; the first lookup of a package
/// decodes its advisories and indexes them, and later lookups reuse that. A fleet touches a
/// few hundred packages of the tens of thousands the feeds name, so opening the store for a
/// scan or a rescan costs milliseconds, not the seconds of decoding every record.
public final class StoredAdvisories: AdvisoryLookup {
    struct Key: Hashable {
        var ecosystem: String
        var name: String
    }

    struct RecordID: Hashable {
        var source: String
        var id: String
    }

    private let database: SQLiteDatabase
    private let recordsByKey: [Key: [RecordID]]
    public let recordCount: Int
    private let buckets = Mutex<[Key: AdvisoryIndex]>([:])
    private let problems = Mutex<[String]>([])

    init(database: SQLiteDatabase) throws {
        self.database = database
        var byKey: [Key: Set<RecordID>] = [:]
        try database.query("SELECT source, id, ecosystem, name FROM advisory_packages") { row in
            guard let source = row.text(0), let id = row.text(1), let ecosystem = row.text(2), let name = row.text(3) else { return }
            byKey[Key(ecosystem: ecosystem, name: AdvisoryIndex.normalize(name, ecosystem: ecosystem)), default: []]
                .insert(RecordID(source: source, id: id))
        }
        recordsByKey = byKey.mapValues { $0.sorted { ($0.source, $0.id) < ($1.source, $1.id) } }
        var count = 0
        // Withdrawn advisories are not matched, so not counted (as the in-memory index does).
        try database.query("SELECT COUNT(*) FROM advisories WHERE json_extract(record, '$.withdrawn') IS NULL") { count = Int($0.integer(0)) }
        recordCount = count
    }

    /// Records that could not be decoded (left out of matching), with the reason.
    public var warnings: [String] { problems.withLock { $0 } }

    public func match(_ package: Package, osNamespace: String?) -> [AdvisoryIndex.Match] {
        guard let lookup = AdvisoryIndex.lookup(for: package, osNamespace: osNamespace) else { return [] }
        let key = Key(ecosystem: lookup.ecosystem, name: lookup.name)
        guard let ids = recordsByKey[key] else { return [] }
        if let index = buckets.withLock({ $0[key] }) { return index.match(package, osNamespace: osNamespace) }
        let index = build(ids)
        buckets.withLock { $0[key] = index }
        return index.match(package, osNamespace: osNamespace)
    }

    private func build(_ ids: [RecordID]) -> AdvisoryIndex {
        let decoder = JSONDecoder()
        var bySource: [String: [OSVRecord]] = [:]
        for id in ids {
            do {
                try database.query("SELECT record FROM advisories WHERE source = ? AND id = ?", [.text(id.source), .text(id.id)]) {
                    row in
                    bySource[id.source, default: []].append(try decoder.decode(OSVRecord.self, from: Data(row.blob(0))))
                }
            } catch {
                problems.withLock { $0.append("advisory \(id.id) from \(id.source) could not be read: \(error)") }
            }
        }
        var index = AdvisoryIndex()
        for (source, records) in bySource.sorted(by: { $0.key < $1.key }) { index.add(records, source: source) }
        return index
    }
}

extension SQLiteStore {
    /// The stored advisories, decoded package by package as matching asks for them.
    public func advisories() throws -> StoredAdvisories { try StoredAdvisories(database: database) }
}
