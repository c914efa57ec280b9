import FathomArchive
public import FathomCore
public import FathomInventory
import FathomOCI
public import Foundation
public import FathomStore
import PostgresNIO

extension PostgresStore {
    // MARK: layer facts and documents

    public func layerFacts(_ digest: Digest) async throws -> LayerFacts? {
        var bytes: Data?
        let version = Int32(LayerFacts.analyzerVersion)
        try await run("SELECT facts FROM layer_facts WHERE digest = \(digest.description) AND analyzer_version = \(version)") {
            bytes = try $0.decode(Data.self)
        }
        // A row the current code cannot read is treated as absent: the layer is read again.
        return bytes.flatMap { try? JSONDecoder().decode(LayerFacts.self, from: $0) }
    }

    public func storeLayerFacts(_ facts: LayerFacts, for digest: Digest) async throws {
        let bytes = try JSONEncoder().encode(facts)
        let version = Int32(facts.analyzerVersion)
        let now = Int64(Date().timeIntervalSince1970)
        try await run(
            """
            INSERT INTO layer_facts (digest, analyzer_version, facts, compressed_size, stored_at)
            VALUES (\(digest.description), \(version), \(bytes), \(facts.summary.compressedSize), \(now))
            ON CONFLICT (digest, analyzer_version) DO UPDATE SET facts = EXCLUDED.facts, compressed_size = EXCLUDED.compressed_size,
                stored_at = EXCLUDED.stored_at
            """)
    }

    public func layerDigests() async throws -> [Digest] {
        var digests: [Digest] = []
        let version = Int32(LayerFacts.analyzerVersion)
        try await run("SELECT digest FROM layer_facts WHERE analyzer_version = \(version) ORDER BY digest") {
            if let digest = try? Digest(parsing: try $0.decode(String.self)) { digests.append(digest) }
        }
        return digests
    }

    public func document(_ digest: Digest) async throws -> [UInt8]? {
        var bytes: [UInt8]?
        try await run("SELECT bytes FROM documents WHERE digest = \(digest.description)") { bytes = Array(try $0.decode(Data.self)) }
        return bytes
    }

    public func storeDocument(_ bytes: [UInt8], digest: Digest) async throws {
        try await run("INSERT INTO documents (digest, bytes) VALUES (\(digest.description), \(Data(bytes))) ON CONFLICT (digest) DO NOTHING")
    }

    // MARK: scan history

    static let previousColumns = "s.scanned_at, s.image_key, i.manifest_digest, s.findings"

    static func previousScan(_ row: PostgresRow) throws -> PreviousScan {
        let (at, key, manifest, findings) = try row.decode((Int64, String, String?, Data).self)
        return previousScan(at: at, key: key, manifest: manifest, findings: findings)
    }

    /// A previous scan from `previousColumns`' values.
    static func previousScan(at: Int64, key: String, manifest: String?, findings: Data) -> PreviousScan {
        PreviousScan(
            scannedAt: Date(timeIntervalSince1970: Double(at) / 1000), imageKey: key,
            manifestDigest: manifest.flatMap { try? Digest(parsing: $0) }, findings: StoredFinding.decode(Array(findings)))
    }

    @discardableResult
    /// Inserts a scan, makes it its name's head, and stores its image once and its inventory.
    /// One scan in one statement: its image (first seen now, or its inventory key updated),
    /// its inventory, the scan, and its name's head. (Six statements before: each costs the
    /// server more to receive than to run.)
    func insertScan(_ scan: ScanRecord, findings: [UInt8], on connection: PostgresConnection?) async throws {
        let image = scan.image
        let key = image.key
        let record = try JSONEncoder().encode(image)
        let firstSeen = Int64(scan.scannedAt.timeIntervalSince1970)
        let at = Int64(scan.scannedAt.timeIntervalSince1970 * 1000)
        let inventoryKey = scan.inventory?.key
        let inventory = Data(scan.inventory?.encoded ?? [])
        let reading = try scan.reading.map { try JSONEncoder().encode($0) }
        try await run(
            """
            WITH image AS (
                INSERT INTO images (image_key, manifest_digest, config_digest, created, record, first_seen, inventory_key, reading)
                VALUES (\(key), \(image.manifestDigest?.description), \(image.configDigest.description), \(image.created), \(record), \(firstSeen),
                    \(inventoryKey), \(reading))
                ON CONFLICT (image_key) DO UPDATE SET inventory_key = COALESCE(EXCLUDED.inventory_key, images.inventory_key),
                    reading = COALESCE(EXCLUDED.reading, images.reading)),
            inventory AS (
                INSERT INTO inventories (inventory_key, inventory) SELECT \(inventoryKey), \(inventory) WHERE \(inventoryKey)::TEXT IS NOT NULL
                ON CONFLICT DO NOTHING),
            scan AS (
                INSERT INTO scans (name, image_key, scanned_at, advisory_version, findings, findings_digest)
                VALUES (\(scan.name), \(key), \(at), \(scan.advisoryVersion), \(Data(findings)), \(StoredFinding.digest(findings))) RETURNING id)
            INSERT INTO heads (name, scan_id) SELECT \(scan.name), id FROM scan ON CONFLICT (name) DO UPDATE SET scan_id = EXCLUDED.scan_id
            """, on: connection)
    }

    public func previousScanAndReading(name: String, imageKey: String) async throws -> (previous: PreviousScan?, reading: StoredReading?) {
        var answer: (previous: PreviousScan?, reading: StoredReading?) = (nil, nil)
        try await run(
            """
            SELECT k.reading, p.scanned_at, p.image_key, p.manifest_digest, p.findings FROM (SELECT 1) AS one
            LEFT JOIN images k ON k.image_key = \(imageKey) AND k.reading IS NOT NULL
            LEFT JOIN LATERAL (
                SELECT \(unescaped: Self.previousColumns) FROM heads h JOIN scans s ON s.id = h.scan_id
                JOIN images i ON i.image_key = s.image_key WHERE h.name = \(name)) AS p ON true
            """
        ) { row in
            let (reading, at, key, manifest, findings) = try row.decode((Data?, Int64?, String?, String?, Data?).self)
            answer.reading = StoredReading.decode(reading.map(Array.init))
            if let at, let key, let findings { answer.previous = Self.previousScan(at: at, key: key, manifest: manifest, findings: findings) }
        }
        return answer
    }

    public func storedReading(imageKey: String) async throws -> StoredReading? {
        var stored: StoredReading?
        try await run("SELECT reading FROM images WHERE image_key = \(imageKey) AND reading IS NOT NULL") { row in
            stored = StoredReading.decode(Array(try row.decode(Data.self)))
        }
        return stored
    }

    public func findingTrend() async throws -> [TrendPoint] {
        var trend = TrendBuilder()
        // A name taken out of the fleet (no head) leaves the trend: its removal time is not kept.
        try await run(
            "SELECT s.name, s.scanned_at, s.findings FROM scans s WHERE EXISTS (SELECT 1 FROM heads h WHERE h.name = s.name) ORDER BY s.scanned_at, s.id"
        ) { row in
            let (name, at, findings) = try row.decode((String, Int64, Data).self)
            trend.add(name: name, at: StoreTime.date(at), findings: StoredFinding.decode(Array(findings)))
        }
        return trend.finish()
    }

    public func latestScanHeads(after name: String?, limit: Int, notMatchedAgainst version: String?) async throws -> [ScanHead] {
        var heads: [ScanHead] = []
        try await run(
            """
            SELECT s.id, h.name, s.image_key, i.manifest_digest, s.advisory_version, i.inventory_key, s.findings_digest, i.record, i.first_seen
            FROM heads h JOIN scans s ON s.id = h.scan_id JOIN images i ON i.image_key = s.image_key
            WHERE h.name > \(name ?? "") AND (\(version)::TEXT IS NULL OR s.advisory_version <> \(version)) ORDER BY h.name LIMIT \(Int64(limit))
            """
        ) { row in
            let (id, name, key, manifest, advisoryVersion, inventory, digest, record, firstSeen) = try row.decode(
                (Int64, String, String, String?, String, String?, String?, Data, Int64).self)
            heads.append(
                ScanHead(
                    scanID: id, name: name, imageKey: key, manifestDigest: manifest.flatMap { try? Digest(parsing: $0) },
                    advisoryVersion: advisoryVersion, inventoryKey: inventory, findingsDigest: digest, imageRecord: Array(record),
                    firstSeen: Date(timeIntervalSince1970: Double(firstSeen))))
        }
        return heads
    }

    public func scannedNames() async throws -> [String] {
        var names: [String] = []
        try await run("SELECT name FROM heads ORDER BY name") { names.append(try $0.decode(String.self)) }
        return names
    }

    public func inventory(_ key: String) async throws -> Inventory? {
        var inventory: Inventory?
        try await run("SELECT inventory FROM inventories WHERE inventory_key = \(key)") { inventory = Inventory.decode(Array(try $0.decode(Data.self))) }
        return inventory
    }

    public func previousScan(_ id: Int64) async throws -> PreviousScan? {
        var previous: PreviousScan?
        try await run("SELECT \(unescaped: Self.previousColumns) FROM scans s JOIN images i ON i.image_key = s.image_key WHERE s.id = \(id)") {
            previous = try Self.previousScan($0)
        }
        return previous
    }

    public func previousScan(name: String) async throws -> PreviousScan? {
        var previous: PreviousScan?
        try await run(
            """
            SELECT \(unescaped: Self.previousColumns) FROM heads h JOIN scans s ON s.id = h.scan_id
            JOIN images i ON i.image_key = s.image_key WHERE h.name = \(name)
            """
        ) { previous = try Self.previousScan($0) }
        return previous
    }

    public func previousScan(name: String, before date: Date) async throws -> PreviousScan? {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var previous: PreviousScan?
        try await run(
            """
            SELECT \(unescaped: Self.previousColumns) FROM scans s JOIN images i ON i.image_key = s.image_key
            WHERE s.name = \(name) AND s.scanned_at < \(millis) ORDER BY s.id DESC LIMIT 1
            """
        ) { previous = try Self.previousScan($0) }
        return previous
    }

    public func recordRematches(changed: [ScanRecord], unchanged: [Int64], advisoryVersion: String) async throws {
        guard !changed.isEmpty || !unchanged.isEmpty else { return }
        let encoded = changed.map { StoredFinding.encode($0.findings) }
        // One scan is one statement: no transaction around it (BEGIN and COMMIT would be two more).
        if changed.count == 1, unchanged.isEmpty {
            try await insertScan(changed[0], findings: encoded[0], on: nil)
            return
        }
        try await transaction { connection in
            for (scan, findings) in zip(changed, encoded) { try await insertScan(scan, findings: findings, on: connection) }
            if !unchanged.isEmpty {
                try await run("UPDATE scans SET advisory_version = \(advisoryVersion) WHERE id = ANY(\(unchanged)::BIGINT[])", on: connection)
            }
        }
    }

    // MARK: registry events

    @discardableResult
    public func importEvents(_ events: [RegistryEvent]) async throws -> Int {
        try await transaction { connection in
            var added = 0
            for event in events {
                let at = Int64(event.timestamp.timeIntervalSince1970)
                try await run(
                    """
                    INSERT INTO registry_events (id, action, repository, tag, digest, media_type, at)
                    VALUES (\(event.id), \(event.action.rawValue), \(event.repository), \(event.tag), \(event.digest?.description), \(event.mediaType), \(at))
                    ON CONFLICT (id) DO NOTHING RETURNING 1
                    """, on: connection
                ) { _ in added += 1 }
            }
            return added
        }
    }

    public func lastEvent(_ action: RegistryEvent.Action, repository: String, tag: String?, digest: Digest?) async throws -> Date? {
        var latest: Int64?
        let digestText = digest?.description
        try await run(
            """
            SELECT MAX(at) FROM registry_events WHERE action = \(action.rawValue) AND repository = \(repository)
            AND ((\(tag)::TEXT IS NOT NULL AND tag = \(tag)) OR (\(digestText)::TEXT IS NOT NULL AND digest = \(digestText)))
            """
        ) { latest = try $0.decode(Int64?.self) }
        return latest.map { Date(timeIntervalSince1970: Double($0)) }
    }
}
