import FathomArchive
public import FathomCore
public import FathomInventory
import FathomOCI
import FathomSQLite
public import Foundation
public import FathomStore

extension SQLiteStore {
    public func layerFacts(_ digest: Digest) async throws -> LayerFacts? {
        let bytes = try await database.read { database in
            var bytes: [UInt8]?
            try database.query(
                "SELECT facts FROM layer_facts WHERE digest = ? AND analyzer_version = ?",
                [.text(digest.description), .integer(Int64(LayerFacts.analyzerVersion))]
            ) { bytes = $0.blob(0) }
            return bytes
        }
        guard let bytes else { return nil }
        do {
            return try JSONDecoder().decode(LayerFacts.self, from: Data(bytes))
        } catch {
            // A row the current code cannot read is treated as absent: the layer is read again.
            return nil
        }
    }

    public func storeLayerFacts(_ facts: LayerFacts, for digest: Digest) async throws {
        let bytes = Array(try JSONEncoder().encode(facts))
        let parameters: [SQLiteValue] = [
            .text(digest.description), .integer(Int64(facts.analyzerVersion)), .blob(bytes),
            .integer(facts.summary.compressedSize), .integer(Int64(Date().timeIntervalSince1970)),
        ]
        try await database.write { database in
            try database.query(
                "INSERT OR REPLACE INTO layer_facts (digest, analyzer_version, facts, compressed_size, stored_at) VALUES (?, ?, ?, ?, ?)",
                parameters)
        }
    }

    public func layerDigests() async throws -> [Digest] {
        try await database.read { database in
            var digests: [Digest] = []
            try database.query(
                "SELECT digest FROM layer_facts WHERE analyzer_version = ? ORDER BY digest",
                [.integer(Int64(LayerFacts.analyzerVersion))]
            ) { row in
                if let text = row.text(0), let digest = try? Digest(parsing: text) { digests.append(digest) }
            }
            return digests
        }
    }

    @discardableResult
    /// Inserts a scan row, makes it its name's head, and stores the image (once: its record never
    /// changes, its key being its manifest digest, so a known image is not encoded again) and its
    /// inventory.
    private static func insertScan(_ scan: ScanRecord, findings: [UInt8], imageKey: String, into database: SQLiteConnection) throws {
        var known = false
        try database.query("SELECT 1 FROM images WHERE image_key = ?", [.text(imageKey)]) { _ in known = true }
        if !known {
            let image = scan.image
            try database.query(
                "INSERT INTO images (image_key, manifest_digest, config_digest, created, record, first_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(imageKey), image.manifestDigest.map { .text($0.description) } ?? .null,
                    .text(image.configDigest.description), image.created.map { .text($0) } ?? .null,
                    .blob(Array(try JSONEncoder().encode(image))), .integer(Int64(scan.scannedAt.timeIntervalSince1970)),
                ])
        }
        try database.query(
            "INSERT INTO scans (name, image_key, scanned_at, advisory_version, findings, findings_digest) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .text(scan.name), .text(imageKey), .integer(Int64(scan.scannedAt.timeIntervalSince1970 * 1000)),
                .text(scan.advisoryVersion), .blob(findings), .text(StoredFinding.digest(findings)),
            ])
        try database.query("INSERT OR REPLACE INTO heads (name, scan_id) VALUES (?, last_insert_rowid())", [.text(scan.name)])
        if let inventory = scan.inventory {
            try database.query(
                "INSERT OR IGNORE INTO inventories (inventory_key, inventory) VALUES (?, ?)", [.text(inventory.key), .blob(inventory.encoded)])
            try database.query("UPDATE images SET inventory_key = ? WHERE image_key = ?", [.text(inventory.key), .text(imageKey)])
        }
        if let reading = scan.reading {
            try database.query("UPDATE images SET reading = ? WHERE image_key = ?", [.blob(Array(try JSONEncoder().encode(reading))), .text(imageKey)])
        }
    }

    public func storedReading(imageKey: String) async throws -> StoredReading? {
        try await database.read { database in
            var stored: StoredReading?
            try database.query("SELECT reading FROM images WHERE image_key = ? AND reading IS NOT NULL", [.text(imageKey)]) { row in
                stored = StoredReading.decode(row.blob(0))
            }
            return stored
        }
    }

    public func latestScanHeads(after name: String?, limit: Int, notMatchedAgainst version: String?) async throws -> [ScanHead] {
        try await database.read { database in
            var heads: [ScanHead] = []
            try database.query(
                """
                SELECT s.id, h.name, s.image_key, i.manifest_digest, s.advisory_version, i.inventory_key, s.findings_digest, i.record,
                i.first_seen
                FROM heads h JOIN scans s ON s.id = h.scan_id JOIN images i ON i.image_key = s.image_key
                WHERE h.name > ? AND (? IS NULL OR s.advisory_version != ?) ORDER BY h.name LIMIT ?
                """,
                [.text(name ?? ""), version.map { .text($0) } ?? .null, version.map { .text($0) } ?? .null, .integer(Int64(limit))]
            ) { row in
                heads.append(
                    ScanHead(
                        scanID: row.integer(0), name: row.text(1) ?? "", imageKey: row.text(2) ?? "",
                        manifestDigest: row.text(3).flatMap { try? Digest(parsing: $0) }, advisoryVersion: row.text(4) ?? "",
                        inventoryKey: row.text(5), findingsDigest: row.text(6), imageRecord: row.blob(7),
                        firstSeen: Date(timeIntervalSince1970: Double(row.integer(8)))))
            }
            return heads
        }
    }

    public func scannedNames() async throws -> [String] {
        try await database.read { database in
            var names: [String] = []
            try database.query("SELECT name FROM heads ORDER BY name") { row in names.append(row.text(0) ?? "") }
            return names
        }
    }

    public func inventory(_ key: String) async throws -> Inventory? {
        try await database.read { database in
            var inventory: Inventory?
            try database.query("SELECT inventory FROM inventories WHERE inventory_key = ?", [.text(key)]) { row in
                inventory = Inventory.decode(row.blob(0))
            }
            return inventory
        }
    }

    public func previousScan(_ id: Int64) async throws -> PreviousScan? {
        try await database.read { database in
            var previous: PreviousScan?
            try database.query(
                "SELECT s.scanned_at, s.image_key, i.manifest_digest, s.findings FROM scans s JOIN images i ON i.image_key = s.image_key WHERE s.id = ?",
                [.integer(id)]
            ) { row in
                previous = Self.previousScan(row)
            }
            return previous
        }
    }

    /// A `PreviousScan` from the columns scanned_at, image_key, manifest_digest, findings.
    static func previousScan(_ row: SQLiteRow) -> PreviousScan {
        PreviousScan(
            scannedAt: Date(timeIntervalSince1970: Double(row.integer(0)) / 1000), imageKey: row.text(1) ?? "",
            manifestDigest: row.text(2).flatMap { try? Digest(parsing: $0) }, findings: StoredFinding.decode(row.blob(3)))
    }

    public func previousScan(name: String) async throws -> PreviousScan? {
        try await database.read { database in
            var previous: PreviousScan?
            try database.query(
                """
                SELECT s.scanned_at, s.image_key, i.manifest_digest, s.findings FROM heads h JOIN scans s ON s.id = h.scan_id
                JOIN images i ON i.image_key = s.image_key WHERE h.name = ?
                """, [.text(name)]
            ) { row in
                previous = Self.previousScan(row)
            }
            return previous
        }
    }

    public func previousScan(name: String, before date: Date) async throws -> PreviousScan? {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        return try await database.read { database in
            var previous: PreviousScan?
            try database.query(
                """
                SELECT s.scanned_at, s.image_key, i.manifest_digest, s.findings FROM scans s
                JOIN images i ON i.image_key = s.image_key WHERE s.name = ? AND s.scanned_at < ? ORDER BY s.id DESC LIMIT 1
                """, [.text(name), .integer(millis)]
            ) { row in
                previous = Self.previousScan(row)
            }
            return previous
        }
    }

    public func recordRematches(changed: [ScanRecord], unchanged: [Int64], advisoryVersion: String) async throws {
        guard !changed.isEmpty || !unchanged.isEmpty else { return }
        let encoded = changed.map { StoredFinding.encode($0.findings) }
        try await database.write { database in
            try database.transaction {
                for (scan, findings) in zip(changed, encoded) {
                    try Self.insertScan(scan, findings: findings, imageKey: scan.image.key, into: database)
                }
                for id in unchanged {
                    try database.query("UPDATE scans SET advisory_version = ? WHERE id = ?", [.text(advisoryVersion), .integer(id)])
                }
            }
        }
    }

    public func findingTrend() async throws -> [TrendPoint] {
        try await database.read { database in
            var trend = TrendBuilder()
            // A name taken out of the fleet (no head) leaves the trend: its removal time is not kept.
            try database.query(
                "SELECT s.name, s.scanned_at, s.findings FROM scans s WHERE EXISTS (SELECT 1 FROM heads h WHERE h.name = s.name) ORDER BY s.scanned_at, s.id"
            ) { row in
                trend.add(name: row.text(0) ?? "", at: Self.date(row.integer(1)), findings: StoredFinding.decode(row.blob(2)))
            }
            return trend.finish()
        }
    }

    public func advisoryVersion() async throws -> String {
        try await database.read { try Self.advisoryVersion($0) }
    }

    /// A digest of every feed's content digest (what `advisoryVersion()` answers).
    static func advisoryVersion(_ database: SQLiteConnection) throws -> String {
        var imports: [(source: String, digest: String)] = []
        try database.query("SELECT source, content_digest FROM imports") { row in imports.append((row.text(0) ?? "", row.text(1) ?? "")) }
        return AdvisoryImportPlan.advisoryVersion(imports)
    }

    @discardableResult
    public func importEvents(_ events: [RegistryEvent]) async throws -> Int {
        try await database.write { database in
            try database.transaction {
                var added = 0
                for event in events {
                    try database.query(
                        "INSERT OR IGNORE INTO registry_events (id, action, repository, tag, digest, media_type, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            .text(event.id), .text(event.action.rawValue), .text(event.repository), event.tag.map { .text($0) } ?? .null,
                            event.digest.map { .text($0.description) } ?? .null, event.mediaType.map { .text($0) } ?? .null,
                            .integer(Int64(event.timestamp.timeIntervalSince1970)),
                        ])
                    added += Int(database.changes)
                }
                return added
            }
        }
    }

    public func lastEvent(_ action: RegistryEvent.Action, repository: String, tag: String?, digest: Digest?) async throws -> Date? {
        let tagValue: SQLiteValue = tag.map { .text($0) } ?? .null
        let digestValue: SQLiteValue = digest.map { .text($0.description) } ?? .null
        let latest = try await database.read { database in
            var latest: Int64?
            try database.query(
                """
                SELECT MAX(at) FROM registry_events WHERE action = ? AND repository = ?
                AND ((? IS NOT NULL AND tag = ?) OR (? IS NOT NULL AND digest = ?))
                """,
                [.text(action.rawValue), .text(repository), tagValue, tagValue, digestValue, digestValue]
            ) { row in latest = row.isNull(0) ? nil : row.integer(0) }
            return latest
        }
        return latest.map { Date(timeIntervalSince1970: Double($0)) }
    }

    public func counts() async throws -> StoreCounts {
        try await database.read { database in
            var counts = [0, 0, 0, 0]
            for (index, table) in ["layer_facts", "images", "scans", "registry_events"].enumerated() {
                try database.query("SELECT COUNT(*) FROM \(table)") { counts[index] = Int($0.integer(0)) }
            }
            return StoreCounts(layers: counts[0], images: counts[1], scans: counts[2], events: counts[3])
        }
    }

    public func document(_ digest: Digest) async throws -> [UInt8]? {
        try await database.read { database in
            var bytes: [UInt8]?
            try database.query("SELECT bytes FROM documents WHERE digest = ?", [.text(digest.description)]) { bytes = $0.blob(0) }
            return bytes
        }
    }

    public func storeDocument(_ bytes: [UInt8], digest: Digest) async throws {
        try await database.write { database in
            try database.query("INSERT OR IGNORE INTO documents (digest, bytes) VALUES (?, ?)", [.text(digest.description), .blob(bytes)])
        }
    }
}
