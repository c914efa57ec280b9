public import FathomAdvisory
import FathomCore
import FathomSQLite
public import Foundation
public import FathomStore

/// The embedded store (SQLite, WAL): imported advisories by feed and import history, layer
/// facts, images, scan history and registry events (see `SQLiteStore+Fleet.swift`). SQL runs on
/// the database's own threads (`SQLiteDatabase`): writes on one writer, reads on WAL readers.
/// Imports are transactional and idempotent: a feed's records are replaced whole, or not at all.
public final class SQLiteStore: Store {
    let database: SQLiteDatabase
    /// This process's idle workers, woken by its own enqueues (other processes' by polling).
    let jobWakeups = Wakeups()
    public var path: String { database.path }
    public var location: String { database.path }

    /// `$XDG_CACHE_HOME/fathom/fathom.db`, else `~/.cache/fathom/fathom.db`.
    public static func defaultPath() -> String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "/tmp") + "/.cache")
        return base + "/fathom/fathom.db"
    }

    /// Opens (creating and migrating if needed) the store at `path`; with `readOnly`, opens an
    /// existing store without writing to it (its schema must be this fathom's).
    public static func open(path: String = SQLiteStore.defaultPath(), readOnly: Bool = false) async throws -> SQLiteStore {
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else { throw FathomError(.notFound, "no store here", path: path) }
            return SQLiteStore(database: try await SQLiteDatabase.open(path: path, readOnly: true, setUp: checkSchema))
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        return SQLiteStore(database: try await SQLiteDatabase.open(path: path, setUp: migrate))
    }

    /// A store opened read-only cannot be migrated: it must already have every migration.
    @Sendable static func checkSchema(_ database: SQLiteConnection) throws {
        var version: Int64 = 0
        try database.query("SELECT COALESCE(MAX(version), 0) FROM schema_version") { version = $0.integer(0) }
        guard version == Int64(migrations.count) else {
            throw FathomError(
                .unsupported,
                "the store is at schema version \(version) and this fathom needs \(migrations.count): open it once with write access to upgrade it",
                path: database.path)
        }
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
        // CVSS scores by vulnerability id, for findings of other feeds: a severity source's own
        // (NVD, `explicit`) and those read from each imported advisory's vectors.
        """
        CREATE TABLE cvss_scores (feed TEXT NOT NULL, id TEXT NOT NULL, source TEXT NOT NULL, version TEXT NOT NULL,
            vector TEXT NOT NULL, score REAL NOT NULL, type TEXT, explicit INTEGER NOT NULL);
        CREATE INDEX cvss_scores_by_id ON cvss_scores (id);
        CREATE INDEX cvss_scores_by_feed ON cvss_scores (feed);
        """,
        // Rescans per distinct inventory: each image names its inventory (stored once per
        // content), each scan the digest of its findings, and `heads` the newest scan of each
        // name (paged through in name order, never loaded whole).
        """
        ALTER TABLE images ADD COLUMN inventory_key TEXT;
        CREATE TABLE inventories (inventory_key TEXT PRIMARY KEY, inventory BLOB NOT NULL);
        ALTER TABLE scans ADD COLUMN findings_digest TEXT;
        CREATE TABLE heads (name TEXT PRIMARY KEY, scan_id INTEGER NOT NULL);
        INSERT INTO heads (name, scan_id) SELECT name, MAX(id) FROM scans GROUP BY name;
        """,
        // Matches that outlive a run: every import that changes something is a generation
        // with what it changed (package keys, kind 0; vulnerability ids, kind 1), and each
        // distinct inventory keeps its findings with the generation they were matched against.
        // `listed` is 0 when a change was too large to list: older matches are redone whole.
        // A match made by another matcher version is not reused.
        """
        CREATE TABLE advisory_generations (generation INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL,
            source TEXT NOT NULL, listed INTEGER NOT NULL);
        CREATE TABLE advisory_changes (generation INTEGER NOT NULL, kind INTEGER NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL);
        CREATE INDEX advisory_changes_by_generation ON advisory_changes (generation);
        CREATE TABLE inventory_matches (inventory_key TEXT PRIMARY KEY, generation INTEGER NOT NULL, matcher INTEGER NOT NULL,
            findings BLOB NOT NULL);
        """,
        // The service: its job queue (one pending job per key; leases that expire return a job
        // to the queue), the newest report document of each name, as `scan --format json`, and
        // the outbox of notifications (kept until delivered: at least once), and which process
        // is reading which layer (so that workers of one store read each layer once).
        """
        CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, job_key TEXT NOT NULL, image TEXT NOT NULL,
            repository TEXT, reference TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before INTEGER NOT NULL,
            lease_until INTEGER, worker TEXT, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE UNIQUE INDEX jobs_one_pending ON jobs (job_key) WHERE state IN ('queued', 'running');
        CREATE INDEX jobs_by_state ON jobs (state, not_before);
        CREATE INDEX jobs_by_image ON jobs (repository, reference);
        CREATE TABLE reports (name TEXT PRIMARY KEY, repository TEXT NOT NULL, tag TEXT, manifest_digest TEXT,
            scan_id INTEGER NOT NULL, document BLOB NOT NULL);
        CREATE INDEX reports_by_tag ON reports (repository, tag);
        CREATE INDEX reports_by_digest ON reports (repository, manifest_digest);
        CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE, url TEXT NOT NULL,
            body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL, delivered_at INTEGER,
            last_error TEXT);
        CREATE INDEX notifications_due ON notifications (delivered_at, next_attempt);
        CREATE TABLE layer_claims (digest TEXT PRIMARY KEY, owner TEXT NOT NULL, until INTEGER NOT NULL);
        """,
        // A job's own details (JSON): a request's policy, a Harbor scan's registry access (sealed).
        """
        ALTER TABLE jobs ADD COLUMN payload TEXT;
        """,
        // Exploitation data by CVE id (CISA KEV, FIRST EPSS), per feed, as JSON.
        """
        CREATE TABLE exploitation (feed TEXT NOT NULL, id TEXT NOT NULL, facts TEXT NOT NULL, PRIMARY KEY (feed, id));
        CREATE INDEX exploitation_by_id ON exploitation (id);
        """,
        // The live (not withdrawn) records of each import, counted once when imported, not by
        // parsing every record whenever the advisories are opened.
        """
        ALTER TABLE imports ADD COLUMN live_records INTEGER;
        UPDATE imports SET live_records = (SELECT COUNT(*) FROM advisories a
            WHERE a.source = imports.source AND json_extract(a.record, '$.withdrawn') IS NULL);
        """,
        // The newest reports' findings as rows, found by id or alias through an index: listing
        // them decoded every report. Reports stored before are listed when findings are asked.
        """
        ALTER TABLE reports ADD COLUMN findings_listed INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX reports_unlisted ON reports (name) WHERE NOT findings_listed;
        CREATE TABLE report_findings (name TEXT NOT NULL, ordinal INTEGER NOT NULL, manifest_digest TEXT, id TEXT NOT NULL,
            aliases TEXT NOT NULL, package TEXT NOT NULL, installed_version TEXT NOT NULL, fixed_version TEXT, severity TEXT NOT NULL,
            status TEXT NOT NULL, PRIMARY KEY (name, ordinal));
        CREATE TABLE report_finding_keys (key TEXT NOT NULL, name TEXT NOT NULL, ordinal INTEGER NOT NULL, severity TEXT NOT NULL,
            fixed INTEGER NOT NULL, PRIMARY KEY (key, name, ordinal));
        CREATE INDEX report_finding_keys_by_name ON report_finding_keys (name);
        """,
        // The fleet summary from rows kept as reports land (decoding every report took seconds
        // at 10,000 images): each report's row sums its image up; the layer prefixes, the
        // findings each layer brings, the images per vulnerability and the package names of each
        // image (for the image search) are kept beside, and the fleet's sums in a few rows
        // (`counted`: a report's row is in them). Every report is listed again to fill them.
        """
        ALTER TABLE reports ADD COLUMN os TEXT;
        ALTER TABLE reports ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN high INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN medium INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN low INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN findings INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN fixable INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN new_findings INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN resolved INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN exploited INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN layers INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN chain TEXT;
        ALTER TABLE reports ADD COLUMN fully_checked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reports ADD COLUMN missing TEXT NOT NULL DEFAULT '';
        ALTER TABLE reports ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX reports_uncounted ON reports (name) WHERE NOT counted;
        CREATE INDEX reports_by_chain ON reports (chain, name);
        CREATE INDEX reports_most_at_risk ON reports (critical DESC, high DESC, medium DESC, low DESC, unknown DESC, name);
        CREATE TABLE fleet_totals (shard INTEGER PRIMARY KEY, images INTEGER NOT NULL, critical INTEGER NOT NULL, high INTEGER NOT NULL,
            medium INTEGER NOT NULL, low INTEGER NOT NULL, unknown INTEGER NOT NULL, layers INTEGER NOT NULL, bytes INTEGER NOT NULL,
            exploited_images INTEGER NOT NULL);
        CREATE TABLE fleet_gaps (gap TEXT PRIMARY KEY, images INTEGER NOT NULL);
        CREATE TABLE fleet_chains (chain TEXT PRIMARY KEY, images INTEGER NOT NULL, unchecked INTEGER NOT NULL);
        CREATE TABLE fleet_keys (key TEXT PRIMARY KEY, findings INTEGER NOT NULL, images INTEGER NOT NULL);
        CREATE TABLE fleet_prefixes (key TEXT PRIMARY KEY, parent TEXT, layer TEXT NOT NULL, depth INTEGER NOT NULL, size INTEGER NOT NULL);
        CREATE TABLE fleet_layer_findings (layer TEXT PRIMARY KEY, findings TEXT NOT NULL);
        CREATE TABLE fleet_vulnerabilities (id TEXT PRIMARY KEY, severity TEXT NOT NULL, rank INTEGER NOT NULL, images INTEGER NOT NULL,
            packages TEXT NOT NULL, kev_added TEXT, ransomware INTEGER NOT NULL);
        CREATE TABLE image_packages (key TEXT PRIMARY KEY, names TEXT NOT NULL);
        CREATE INDEX reports_by_manifest ON reports (manifest_digest);
        DELETE FROM report_findings;
        DELETE FROM report_finding_keys;
        UPDATE reports SET findings_listed = 0;
        """,
        // Each image's reading (OS, layer summaries, warnings; `ImageReading`) beside its
        // inventory: a scan of a known manifest merges no layer.
        """
        ALTER TABLE images ADD COLUMN reading BLOB;
        """,
        // The fleet's trend: each day's share of the running totals' moves (see PostgresStore).
        """
        CREATE TABLE fleet_days (day TEXT NOT NULL, shard INTEGER NOT NULL, images INTEGER NOT NULL, critical INTEGER NOT NULL, high INTEGER NOT NULL,
            medium INTEGER NOT NULL, low INTEGER NOT NULL, unknown INTEGER NOT NULL, PRIMARY KEY (day, shard));
        INSERT INTO fleet_days SELECT strftime('%Y-%m-%d', 'now'), shard, images, critical, high, medium, low, unknown FROM fleet_totals;
        """,
        // A claim asks of each queued job, in their order (jobs_by_state, whose entries end in
        // the id), whether a job of its image name is ahead of it (one job of a name at a time);
        // when a worker first took a job (what its attempts recorded is at or after it).
        """
        CREATE INDEX IF NOT EXISTS jobs_pending_by_image ON jobs (image) WHERE state IN ('queued', 'running');
        ALTER TABLE jobs ADD COLUMN started_at INTEGER;
        """,
        // Retention reaches what only pruned scans held: the images no scan names, the
        // inventories no image names.
        """
        CREATE INDEX IF NOT EXISTS scans_by_image ON scans (image_key);
        CREATE INDEX IF NOT EXISTS images_by_inventory ON images (inventory_key);
        """,
        // A withdrawn record names no package to match (imports now leave its rows out).
        """
        DELETE FROM advisory_packages WHERE (source, id) IN (SELECT source, id FROM advisories
            WHERE record LIKE '%"withdrawn"%' AND json_extract(record, '$.withdrawn') IS NOT NULL);
        """,
        // Which bases a chain's images carry findings of: the depth of the lowest layer that
        // brought one (0: none; NULL until an image of the chain is listed again: every base).
        """
        ALTER TABLE fleet_chains ADD COLUMN lowest_finding_depth INTEGER;
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

    /// Replaces the advisories and CVSS scores of `source`, in one transaction. `scores` are a
    /// severity source's own (NVD's, by CVE id); the advisories' own vectors are indexed by id
    /// and alias as well, so other feeds' findings of the same CVE can rank by them.
    public func importAdvisories(
        _ records: [OSVRecord], scores: [String: [CVSSScore]], exploitation: [String: Exploitation], source: String, now: Date = Date()
    ) async throws -> AdvisoryImportResult {
        let plan = try AdvisoryImportPlan(records: records, scores: scores, exploitation: exploitation, source: source)
        let imported = ISO8601DateFormatter().string(from: now)
        // The check and the replacement are one transaction: two importers never interleave.
        return try await database.write { database in
            try database.transaction {
                var previous: String?
                try database.query("SELECT content_digest FROM imports WHERE source = ?", [.text(source)]) { previous = $0.text(0) }
                if previous == plan.digest { return plan.result(changed: false) }
                var stored: [String: String] = [:]
                try database.query("SELECT id, record FROM advisories WHERE source = ?", [.text(source)]) { row in
                    stored[row.text(0) ?? ""] = row.text(1) ?? ""
                }
                var storedScores: [String: [CVSSScore]] = [:]
                try database.query(
                    "SELECT id, source, version, vector, score, type FROM cvss_scores WHERE feed = ? AND explicit = 1 ORDER BY rowid",
                    [.text(source)]
                ) { row in storedScores[row.text(0) ?? "", default: []].append(Self.score(row, from: 1)) }
                let storedExploitation = try Self.exploitation(feed: source, in: database)
                let changes = plan.changes(stored: stored, storedScores: storedScores, storedExploitation: storedExploitation)
                try database.query("DELETE FROM exploitation WHERE feed = ?", [.text(source)])
                for (id, json) in plan.exploitation {
                    try database.query("INSERT INTO exploitation (feed, id, facts) VALUES (?, ?, ?)", [.text(source), .text(id), .text(json)])
                }
                try database.query("DELETE FROM advisories WHERE source = ?", [.text(source)])
                try database.query("DELETE FROM advisory_packages WHERE source = ?", [.text(source)])
                try database.query("DELETE FROM cvss_scores WHERE feed = ?", [.text(source)])
                for (record, json) in plan.encoded {
                    try database.query("INSERT OR REPLACE INTO advisories (source, id, record) VALUES (?, ?, ?)", [.text(source), .text(record.id), .text(json)])
                }
                for row in plan.packageRows {
                    try database.query(
                        "INSERT INTO advisory_packages (source, id, ecosystem, name) VALUES (?, ?, ?, ?)",
                        [.text(source), .text(row.id), .text(row.ecosystem), .text(row.name)])
                }
                for (isExplicit, list) in [(true, plan.explicit), (false, plan.derived)] {
                    for (id, score) in list {
                        try database.query(
                            "INSERT INTO cvss_scores (feed, id, source, version, vector, score, type, explicit) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [
                                .text(source), .text(id), .text(score.source), .text(score.version), .text(score.vector), .real(score.score),
                                score.type.map { .text($0) } ?? .null, .integer(isExplicit ? 1 : 0),
                            ])
                    }
                }
                try database.query(
                    "INSERT OR REPLACE INTO imports (source, imported_at, records, content_digest, live_records) VALUES (?, ?, ?, ?, ?)",
                    [
                        .text(source), .text(imported), .integer(Int64(plan.result(changed: true).records)), .text(plan.digest),
                        .integer(Int64(plan.live)),
                    ])
                try Self.recordGeneration(changes, source: source, in: database)
                return plan.result(changed: true)
            }
        }
    }

    public func scoreDocuments(source: String) async throws -> [String: [CVSSScore]] {
        try await database.read { database in
            var scores: [String: [CVSSScore]] = [:]
            try database.query(
                "SELECT id, source, version, vector, score, type FROM cvss_scores WHERE feed = ? AND explicit = 1 ORDER BY rowid",
                [.text(source)]
            ) { row in scores[row.text(0) ?? "", default: []].append(Self.score(row, from: 1)) }
            return scores
        }
    }

    public func exploitationDocuments(source: String) async throws -> [String: Exploitation] {
        try await database.read { database in try Self.exploitation(feed: source, in: database) }
    }

    /// The exploitation data a feed was imported with, by CVE id.
    static func exploitation(feed: String, in database: SQLiteConnection) throws -> [String: Exploitation] {
        var found: [String: Exploitation] = [:]
        let decoder = JSONDecoder()
        var unreadable: String?
        try database.query("SELECT id, facts FROM exploitation WHERE feed = ?", [.text(feed)]) { row in
            guard let id = row.text(0), let facts = try? decoder.decode(Exploitation.self, from: Data((row.text(1) ?? "").utf8)) else {
                unreadable = row.text(0)
                return
            }
            found[id] = facts
        }
        if let unreadable { throw FathomError(.invalidInput, "the store's exploitation data of \(unreadable) (feed \(feed)) cannot be read") }
        return found
    }

    /// A `CVSSScore` from the columns source, version, vector, score, type starting at `column`.
    static func score(_ row: SQLiteRow, from column: Int32) -> CVSSScore {
        CVSSScore(
            source: row.text(column) ?? "", version: row.text(column + 1) ?? "", vector: row.text(column + 2) ?? "",
            score: row.real(column + 3), type: row.text(column + 4))
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
        let feeds = try await advisoryFeeds()
        return try await database.read { database in
            var ecosystems: [(String, Int)] = []
            try database.query(
                "SELECT ecosystem, COUNT(DISTINCT source || ' ' || id) FROM advisory_packages GROUP BY ecosystem ORDER BY ecosystem"
            ) { row in ecosystems.append((row.text(0) ?? "", Int(row.integer(1)))) }
            return AdvisoryStatistics(feeds: feeds, byEcosystem: ecosystems)
        }
    }

    public func advisoryFeeds() async throws -> [AdvisoryStatistics.Feed] {
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
            return feeds
        }
    }
}
