public import FathomAdvisory
import FathomCore
import FathomSQLite
public import Foundation

/// The embedded store (SQLite, WAL): imported advisories by feed and import history, layer
/// facts, images, scan history and registry events (see `SQLiteStore+Fleet.swift`). SQL runs on
/// the database's own threads (`SQLiteDatabase`): writes on one writer, reads on WAL readers.
/// Imports are transactional and idempotent: a feed's records are replaced whole, or not at all.
public final class SQLiteStore: Store {
    let database: SQLiteDatabase
    public var path: String { database.path }
    public var location: String { database.path }

    /// `$XDG_CACHE_HOME/fathom/fathom.db`, else `~/.cache/fathom/fathom.db`.
    public static func defaultPath() -> String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "/tmp") + "/.cache")
        return base + "/fathom/fathom.db"
    }

    /// Opens (creating and migrating if needed) the store at `path`.
    public static func open(path: String = SQLiteStore.defaultPath()) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        return SQLiteStore(database: try await SQLiteDatabase.open(path: path, setUp: migrate))
    }

    init(database: SQLiteDatabase) { self.database = database }

    public func close() async throws { try await database.close() }

    static let migrations: [String] = [
        """
        CREATE TABLE advisories (source TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (source, id));
        CREATE TABLE advisory_packages (source TEXT NOT NULL, id TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL);
        CREATE INDEX advisory_packages_source ON advisory_packages (source);
        CREATE TABLE imports (source TEXT PRIMARY KEY, imported_at TEXT NOT NULL, records INTEGER NOT NULL, content_digest TEXT NOT NULL);
        """,
        // The fleet: layer facts by digest and analyzer version, images, every scan of a name,
        // and the registry's notification events (push and pull times).
        """
        CREATE TABLE layer_facts (digest TEXT NOT NULL, analyzer_version INTEGER NOT NULL, facts BLOB NOT NULL,
            compressed_size INTEGER NOT NULL, stored_at INTEGER NOT NULL, PRIMARY KEY (digest, analyzer_version));
        CREATE TABLE images (image_key TEXT PRIMARY KEY, manifest_digest TEXT, config_digest TEXT NOT NULL,
            created TEXT, record BLOB NOT NULL, first_seen INTEGER NOT NULL);
        CREATE TABLE scans (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, image_key TEXT NOT NULL REFERENCES images (image_key),
            scanned_at INTEGER NOT NULL, advisory_version TEXT NOT NULL, findings BLOB NOT NULL);
        CREATE INDEX scans_by_name ON scans (name, id);
        CREATE TABLE registry_events (id TEXT PRIMARY KEY, action TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT,
            digest TEXT, media_type TEXT, at INTEGER NOT NULL);
        CREATE INDEX registry_events_by_repository ON registry_events (repository, action);
        """,
        // Image configs by digest: a known image costs one manifest request.
        """
        CREATE TABLE documents (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL);
        """,
        // Feed downloads: the validators for conditional requests.
        """
        CREATE TABLE feed_state (source TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT, fetched_at INTEGER NOT NULL);
        """,
    ]

    @Sendable static func migrate(_ database: SQLiteConnection) throws {
        try database.transaction {
            try database.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            var version: Int64 = 0
            try database.query("SELECT COALESCE(MAX(version), 0) FROM schema_version") { version = $0.integer(0) }
            for (index, migration) in Self.migrations.enumerated() where Int64(index + 1) > version {
                try database.execute(migration)
                try database.query("INSERT INTO schema_version (version) VALUES (?)", [.integer(Int64(index + 1))])
            }
        }
    }

    /// Replaces the advisories of `source` with `records`, in one transaction.
    public func importAdvisories(_ records: [OSVRecord], source: String, now: Date = Date()) async throws -> AdvisoryImportResult {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let sorted = records.sorted { $0.id < $1.id }
        var hasher = DigestHasher()
        var encoded: [(OSVRecord, String)] = []
        for record in sorted {
            let json = String(decoding: try encoder.encode(record), as: UTF8.self)
            hasher.update(Array(json.utf8))
            encoded.append((record, json))
        }
        let digest = hasher.finalize().description
        let count = sorted.count
        let imported = ISO8601DateFormatter().string(from: now)
        // The check and the replacement are one transaction: two importers never interleave.
        return try await database.write { [encoded] database in
            try database.transaction {
                var previous: String?
                try database.query("SELECT content_digest FROM imports WHERE source = ?", [.text(source)]) { previous = $0.text(0) }
                if previous == digest { return AdvisoryImportResult(source: source, records: count, changed: false) }
                try database.query("DELETE FROM advisories WHERE source = ?", [.text(source)])
                try database.query("DELETE FROM advisory_packages WHERE source = ?", [.text(source)])
                for (record, json) in encoded {
                    try database.query("INSERT OR REPLACE INTO advisories (source, id, record) VALUES (?, ?, ?)", [.text(source), .text(record.id), .text(json)])
                    for affected in record.affected ?? [] {
                        guard let package = affected.package else { continue }
                        try database.query(
                            "INSERT INTO advisory_packages (source, id, ecosystem, name) VALUES (?, ?, ?, ?)",
                            [.text(source), .text(record.id), .text(package.ecosystem), .text(package.name)])
                    }
                }
                try database.query(
                    "INSERT OR REPLACE INTO imports (source, imported_at, records, content_digest) VALUES (?, ?, ?, ?)",
                    [.text(source), .text(imported), .integer(Int64(count)), .text(digest)])
                return AdvisoryImportResult(source: source, records: count, changed: true)
            }
        }
    }

    public func advisoryDocuments(source: String) async throws -> [String] {
        try await database.read { database in
            var documents: [String] = []
            try database.query("SELECT record FROM advisories WHERE source = ? ORDER BY id", [.text(source)]) { row in
                if let text = row.text(0) { documents.append(text) }
            }
            return documents
        }
    }

    public func feedState(_ source: String) async throws -> FeedState? {
        try await database.read { database in
            var state: FeedState?
            // Only for a feed whose advisories are here: otherwise the next download is whole.
            try database.query(
                "SELECT f.url, f.etag, f.last_modified, f.fetched_at FROM feed_state f JOIN imports i ON i.source = f.source WHERE f.source = ?",
                [.text(source)]
            ) { row in
                state = FeedState(
                    source: source, url: row.text(0) ?? "", etag: row.text(1), lastModified: row.text(2),
                    fetchedAt: Date(timeIntervalSince1970: Double(row.integer(3))))
            }
            return state
        }
    }

    public func recordFeedState(_ state: FeedState) async throws {
        try await database.write { database in
            try database.query(
                "INSERT OR REPLACE INTO feed_state (source, url, etag, last_modified, fetched_at) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(state.source), .text(state.url), state.etag.map { .text($0) } ?? .null,
                    state.lastModified.map { .text($0) } ?? .null, .integer(Int64(state.fetchedAt.timeIntervalSince1970)),
                ])
        }
    }

    public func advisoryStatistics() async throws -> AdvisoryStatistics {
        try await database.read { database in
            var feeds: [AdvisoryStatistics.Feed] = []
            try database.query(
                """
                SELECT i.source, i.imported_at, i.records, f.fetched_at, f.last_modified, f.url FROM imports i
                LEFT JOIN feed_state f ON f.source = i.source ORDER BY i.source
                """
            ) { row in
                feeds.append(
                    AdvisoryStatistics.Feed(
                        source: row.text(0) ?? "", importedAt: row.text(1) ?? "", records: Int(row.integer(2)),
                        checkedAt: row.isNull(3) ? nil : Date(timeIntervalSince1970: Double(row.integer(3))), upstreamModified: row.text(4),
                        url: row.text(5)))
            }
            var ecosystems: [(String, Int)] = []
            try database.query(
                "SELECT ecosystem, COUNT(DISTINCT source || ' ' || id) FROM advisory_packages GROUP BY ecosystem ORDER BY ecosystem"
            ) { row in ecosystems.append((row.text(0) ?? "", Int(row.integer(1)))) }
            return AdvisoryStatistics(feeds: feeds, byEcosystem: ecosystems)
        }
    }
}
