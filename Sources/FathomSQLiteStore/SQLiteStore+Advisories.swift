public import FathomAdvisory
import FathomCore
import FathomSQLite
public import FathomStore
import Foundation

extension SQLiteStore: AdvisoryRecordReader {
    public func advisories() async throws -> any AdvisoryLookup { try await storedAdvisories() }

    /// The stored advisories as their own type (with the warnings of records left out).
    public func storedAdvisories() async throws -> StoredAdvisories { try await StoredAdvisories.open(self) }

    public func advisoryPackages() async throws -> [(source: String, id: String, ecosystem: String, name: String)] {
        try await database.read { connection in
            var rows: [(source: String, id: String, ecosystem: String, name: String)] = []
            try connection.query("SELECT source, id, ecosystem, name FROM advisory_packages") { row in
                guard let source = row.text(0), let id = row.text(1), let ecosystem = row.text(2), let name = row.text(3) else { return }
                rows.append((source, id, ecosystem, name))
            }
            return rows
        }
    }

    public func liveAdvisoryCount() async throws -> Int {
        try await database.read { connection in
            var count = 0
            // Withdrawn advisories are not matched, so not counted (as the in-memory index does);
            // each import counted its own.
            // (An import by a fathom from before the count left none: its record count stands in.)
            try connection.query("SELECT COALESCE(SUM(COALESCE(live_records, records)), 0) FROM imports") {
                count = Int($0.integer(0))
            }
            return count
        }
    }

    public func advisoryRecords(_ ids: [(source: String, id: String)]) async throws -> [(source: String, id: String, json: [UInt8])] {
        try await database.read { connection in
            var rows: [(source: String, id: String, json: [UInt8])] = []
            for id in ids {
                try connection.query("SELECT record FROM advisories WHERE source = ? AND id = ?", [.text(id.source), .text(id.id)]) { row in
                    rows.append((id.source, id.id, row.blob(0)))
                }
            }
            return rows
        }
    }

    public func exploitationCounts() async throws -> (kev: Int, epss: Int) {
        try await database.read { connection in
            var counts = (kev: 0, epss: 0)
            try connection.query(
                """
                SELECT COUNT(DISTINCT CASE WHEN json_extract(facts, '$.kev') IS NOT NULL THEN id END),
                    COUNT(DISTINCT CASE WHEN json_extract(facts, '$.epss') IS NOT NULL THEN id END) FROM exploitation
                """
            ) { counts = (Int($0.integer(0)), Int($0.integer(1))) }
            return counts
        }
    }

    public func exploitation(for ids: [String]) async throws -> [String: Exploitation] {
        try await database.read { connection in
            var found: [String: Exploitation] = [:]
            let decoder = JSONDecoder()
            for id in ids {
                var unreadable: String?
                try connection.query("SELECT feed, facts FROM exploitation WHERE id = ? ORDER BY feed", [.text(id)]) { row in
                    guard let facts = try? decoder.decode(Exploitation.self, from: Data((row.text(1) ?? "").utf8)) else {
                        unreadable = row.text(0)
                        return
                    }
                    found[id] = found[id].map { $0.merging(facts) } ?? facts
                }
                if let unreadable { throw FathomError(.invalidInput, "the store's exploitation data of \(id) (feed \(unreadable)) cannot be read") }
            }
            return found
        }
    }

    public func cvssScores(for ids: [String]) async throws -> [String: [CVSSScore]] {
        try await database.read { connection in
            var found: [String: [CVSSScore]] = [:]
            for id in ids {
                try connection.query("SELECT source, version, vector, score, type FROM cvss_scores WHERE id = ? ORDER BY rowid", [.text(id)]) {
                    row in found[id, default: []].append(SQLiteStore.score(row, from: 0))
                }
            }
            return found
        }
    }
}
