public import FathomAdvisory
import FathomSQLite
import Foundation
public import FathomStore

extension SQLiteStore {
    /// Adds a generation for an import that changed `source` (with what it changed, if listed).
    static func recordGeneration(_ changes: AdvisoryChanges?, source: String, in database: SQLiteConnection) throws {
        try database.query(
            "INSERT INTO advisory_generations (version, source, listed) VALUES (?, ?, ?)",
            [.text(try advisoryVersion(database)), .text(source), .integer(changes == nil ? 0 : 1)])
        guard let changes else { return }
        let generation = database.lastInsertRowID
        for key in changes.packages {
            try database.query(
                "INSERT INTO advisory_changes (generation, kind, ecosystem, name) VALUES (?, 0, ?, ?)",
                [.integer(generation), .text(key.ecosystem), .text(key.name)])
        }
        for id in changes.ids {
            try database.query(
                "INSERT INTO advisory_changes (generation, kind, ecosystem, name) VALUES (?, 1, '', ?)", [.integer(generation), .text(id)])
        }
    }

    public func advisoryGeneration() async throws -> Int64? {
        try await database.read { database in
            var latest: (Int64, String)?
            try database.query("SELECT generation, version FROM advisory_generations ORDER BY generation DESC LIMIT 1") { row in
                latest = (row.integer(0), row.text(1) ?? "")
            }
            // Data imported before generations were kept, or changed without one, has none.
            guard let latest, latest.1 == (try Self.advisoryVersion(database)) else { return nil }
            return latest.0
        }
    }

    public func advisoryChanges(since generation: Int64) async throws -> AdvisoryChanges? {
        try await database.read { database in
            var unlisted = false
            try database.query("SELECT 1 FROM advisory_generations WHERE generation > ? AND listed = 0 LIMIT 1", [.integer(generation)]) {
                _ in unlisted = true
            }
            guard !unlisted else { return nil }
            var changes = AdvisoryChanges()
            try database.query("SELECT kind, ecosystem, name FROM advisory_changes WHERE generation > ?", [.integer(generation)]) { row in
                if row.integer(0) == 0 {
                    changes.packages.insert(AdvisoryChanges.PackageKey(ecosystem: row.text(1) ?? "", name: row.text(2) ?? ""))
                } else {
                    changes.ids.insert(row.text(2) ?? "")
                }
            }
            return changes
        }
    }

    public func storedMatch(_ inventoryKey: String) async throws -> InventoryMatch? {
        let row = try await database.read { database in
            var row: (Int64, [UInt8])?
            try database.query(
                "SELECT generation, findings FROM inventory_matches WHERE inventory_key = ? AND matcher = ?",
                [.text(inventoryKey), .integer(Int64(ImageMatcher.version))]
            ) { row = ($0.integer(0), $0.blob(1)) }
            return row
        }
        guard let row else { return nil }
        // A row this release cannot read is as good as absent: the inventory is matched again.
        guard let findings = try? JSONDecoder().decode([Finding].self, from: Data(row.1)) else { return nil }
        return InventoryMatch(inventoryKey: inventoryKey, generation: row.0, findings: findings)
    }

    public func storeMatches(_ matches: [InventoryMatch]) async throws {
        guard !matches.isEmpty else { return }
        let encoder = JSONEncoder()
        let rows = try matches.map { ($0.inventoryKey, $0.generation, Array(try encoder.encode($0.findings))) }
        try await database.write { database in
            try database.transaction {
                for (key, generation, findings) in rows {
                    try database.query(
                        "INSERT OR REPLACE INTO inventory_matches (inventory_key, generation, matcher, findings) VALUES (?, ?, ?, ?)",
                        [.text(key), .integer(generation), .integer(Int64(ImageMatcher.version)), .blob(findings)])
                }
            }
        }
    }
}
