import FathomAdvisory
import FathomCore
import Foundation
public import FathomStore
public import Logging
import PostgresNIO

/// The shared store on PostgreSQL (postgres-nio): the same protocols as `SQLiteStore`, for
/// any number of `serve` and `worker` processes on any number of machines. Migrations are
/// versioned and applied at open by whichever process comes first, under an advisory lock; the
/// job queue claims with `FOR UPDATE SKIP LOCKED`. Times are stored as SQLite stores them
/// (milliseconds for scans, jobs and notifications; seconds elsewhere).
public final class PostgresStore: Store {
    let client: PostgresClient
    private let running: Task<Void, Never>
    let logger: Logger
    public let location: String
    let jobWakeups = Wakeups()
    /// Waiters on another process's layer claim, woken by `NOTIFY fathom_layers, 'DIGEST'`.
    let layerWakeups = Wakeups()
    let listener = Locked<Task<Void, Never>?>(nil)
    /// The advisory version, kept while the listener hears imports (`fathom_advisories`).
    let advisoryVersions = AdvisoryVersionCache()
    /// When (by the claims' own clock, milliseconds) a claim last returned the jobs whose leases ran out.
    let expiredChecked = Locked<Int64?>(nil)
    /// Connects once afresh and closes, throwing the named cause (PostgresFailure.probe).
    let reach: @Sendable (Duration) async throws -> Void

    /// `postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=FILE&connect_timeout=SECONDS]`
    /// (see `PostgresURL`); `connect_timeout` in the URL replaces `connectTimeout`.
    /// `genericPlans`: each prepared statement is planned once per connection
    /// (`plan_cache_mode=force_generic_plan`), for the write path of scans and workers, whose
    /// statements are keyed lookups and array upserts: PostgreSQL planned most of them at every
    /// execution, a tenth of its CPU per image in the service benchmark. Not for `serve`, whose
    /// ad hoc filters over skewed data are better planned for their values.
    public static func open(
        url: String, connectTimeout: Duration = .seconds(15), logger: Logger = Logger(label: "fathom.postgres"), genericPlans: Bool = false,
        mustExist: Bool = false
    ) async throws -> PostgresStore {
        let parsed = try PostgresURL(url)
        let connectTimeout = parsed.connectTimeout ?? connectTimeout
        let (host, port, user, database) = (parsed.host, parsed.port, parsed.user, parsed.database ?? "")
        let tls: PostgresClient.Configuration.TLS
        switch (parsed.tls(), parsed.requiresTLS) {
        case (nil, _): tls = .disable
        case (let configuration?, false): tls = .prefer(configuration)
        case (let configuration?, true): tls = .require(configuration)
        }
        // PostgresNIO's connection chatter (each attempt, each retry) is debug detail: at the
        // default level only warnings and errors of its own come through.
        let caller = logger
        var quieter = logger
        if quieter.logLevel > .debug { quieter.logLevel = max(quieter.logLevel, .warning) }
        let logger = quieter
        // One direct connection first: a refusal, an unknown host, a password, a database or TLS
        // is named at once as PostgreSQL said it (the pool would only time out).
        let planning = genericPlans ? [("plan_cache_mode", "force_generic_plan")] : []
        let planned = Locked(false)
        do {
            try await Self.within(connectTimeout, "PostgreSQL at \(host):\(port): did not answer within \(connectTimeout)") {
                let taken = try await PostgresFailure.probe(parsed, timeout: connectTimeout, logger: logger, parameters: planning)
                planned.withLock { $0 = taken }
            }
        } catch let error as FathomError {
            // The cause alone (PostgreSQL at HOST:PORT: …): the URL adds only what it repeats.
            throw FathomError(.io, error.message)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: parsed.password, database: parsed.database, tls: tls)
        configuration.options.maximumConnections = 16
        // Each time a connection goes idle the pool starts its idle timeout and its keep-alive
        // as sleeping tasks, and a sleep that the next lease cancels still holds its memory until
        // its deadline: at thousands of statements a second those timers were 50 MB of a
        // 10,000-tag scan's 74 MB heap (heaptrack). No keep-alive, since an idle connection
        // closes at its idle timeout anyway, and a shorter idle timeout, which only costs a
        // reconnection after 20 s without a statement.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = .seconds(20)
        // A pooler that passes no plan_cache_mode (PgBouncer's default) gets none: PostgreSQL
        // then plans as it chooses, as for `serve`.
        if genericPlans && planned.withLock({ $0 }) {
            configuration.options.additionalStartupParameters = planning
        } else if genericPlans {
            caller.info("the server refuses the startup parameter plan_cache_mode (a pooler?): statements are planned as PostgreSQL chooses")
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // The client serves leases once `run()` has begun: wait for its task to reach it.
        let (started, starting) = AsyncStream<Void>.makeStream()
        let running = Task {
            starting.finish()
            await client.run()
        }
        for await _ in started {}
        let store = PostgresStore(client: client, running: running, location: redacted(url), logger: logger) { timeout in
            try await PostgresFailure.probe(parsed, timeout: timeout, logger: logger)
        }
        do {
            // The pool retries a server that does not answer for ever: give up with a reason. Once
            // a connection is leased the server has answered, and the migrations (or waiting for
            // another process's, on a large store) take what they take.
            let answered = Locked(false)
            try await Self.within(connectTimeout, "PostgreSQL at \(host):\(port): did not answer within \(connectTimeout)", unless: answered) {
                try await store.migrate(mustExist: mustExist, connected: { answered.withLock { $0 = true } })
            }
        } catch let error as FathomError where error.code == .notFound {
            try? await store.close()
            throw FathomError(.notFound, error.message, path: redacted(url))
        } catch {
            try? await store.close()
            throw FathomError(.io, "cannot open the PostgreSQL store", path: redacted(url), cause: error)
        }
        return store
    }

    /// `body`, or an error saying `message` once `timeout` has passed, unless `done` was set by
    /// then (the clock stops: `body` then runs to its end).
    static func within(
        _ timeout: Duration, _ message: String, unless done: Locked<Bool> = Locked(false), _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await body(); return true }
            group.addTask {
                try await Task.sleep(for: timeout)
                if done.withLock({ $0 }) { return false }
                throw FathomError(.io, message)
            }
            while let finished = try await group.next(), !finished {}
            group.cancelAll()
        }
    }

    /// The URL without its password (for messages and `location`); a text URLComponents cannot
    /// read has whatever stands between `user:` and the last `@` masked.
    public static func redacted(_ url: String) -> String {
        if var components = URLComponents(string: url), components.host != nil {
            guard components.password != nil else { return url }
            components.password = "***"
            return components.string ?? url
        }
        guard let at = url.lastIndex(of: "@") else { return url }
        // The user part starts after `//`, else after a `postgres:`-like scheme, else at the start.
        var start = url.startIndex
        if let slashes = url[..<at].range(of: "//") {
            start = slashes.upperBound
        } else if let scheme = url[..<at].firstIndex(of: ":"), url[..<scheme].lowercased().hasPrefix("postgres") {
            start = url.index(after: scheme)
        }
        guard let colon = url[start..<at].firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }

    private init(
        client: PostgresClient, running: Task<Void, Never>, location: String, logger: Logger,
        reach: @escaping @Sendable (Duration) async throws -> Void
    ) {
        self.client = client
        self.running = running
        self.location = location
        self.logger = logger
        self.reach = reach
    }

    /// One direct connection, as at open (the pool only ever waits for a server that is down):
    /// its failure named, if it fails within `timeout`. A connection that takes longer is a
    /// slow server, not a missing one, and a server out of connections a busy one: nil (the
    /// attempt finishes in the background).
    public func unreachable(within timeout: Duration) async -> String? {
        let reach = self.reach
        return await withCheckedContinuation { continuation in
            let answered = Locked(false)
            let answer: @Sendable (String?) -> Void = { cause in
                if answered.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: cause) }
            }
            Task {
                do {
                    try await reach(timeout * 2)
                    answer(nil)
                } catch let error as FathomError where error.code == .limitExceeded {
                    answer(nil)
                } catch {
                    answer((error as? FathomError)?.message ?? "\(error)")
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                answer(nil)
            }
        }
    }

    public func close() async throws {
        listener.withLock { $0 }?.cancel()
        running.cancel()
        _ = await running.value
    }

    /// Versioned migrations, one transaction each, under an advisory lock so that processes
    /// starting together apply each once.
    static let migrations: [String] = [
        """
        CREATE TABLE advisories (source TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (source, id));
        CREATE TABLE advisory_packages (source TEXT NOT NULL, id TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL);
        CREATE INDEX advisory_packages_source ON advisory_packages (source);
        CREATE TABLE imports (source TEXT PRIMARY KEY, imported_at TEXT NOT NULL, records BIGINT NOT NULL, content_digest TEXT NOT NULL);
        CREATE TABLE feed_state (source TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT, fetched_at BIGINT NOT NULL);
        CREATE TABLE cvss_scores (seq BIGSERIAL PRIMARY KEY, feed TEXT NOT NULL, id TEXT NOT NULL, source TEXT NOT NULL, version TEXT NOT NULL,
            vector TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, type TEXT, explicit BOOLEAN NOT NULL);
        CREATE INDEX cvss_scores_by_id ON cvss_scores (id);
        CREATE INDEX cvss_scores_by_feed ON cvss_scores (feed);
        CREATE TABLE advisory_generations (generation BIGSERIAL PRIMARY KEY, version TEXT NOT NULL, source TEXT NOT NULL, listed BOOLEAN NOT NULL);
        CREATE TABLE advisory_changes (generation BIGINT NOT NULL, kind INTEGER NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL);
        CREATE INDEX advisory_changes_by_generation ON advisory_changes (generation);
        CREATE TABLE layer_facts (digest TEXT NOT NULL, analyzer_version INTEGER NOT NULL, facts BYTEA NOT NULL,
            compressed_size BIGINT NOT NULL, stored_at BIGINT NOT NULL, PRIMARY KEY (digest, analyzer_version));
        CREATE TABLE documents (digest TEXT PRIMARY KEY, bytes BYTEA NOT NULL);
        CREATE TABLE inventories (inventory_key TEXT PRIMARY KEY, inventory BYTEA NOT NULL);
        CREATE TABLE images (image_key TEXT PRIMARY KEY, manifest_digest TEXT, config_digest TEXT NOT NULL, created TEXT,
            record BYTEA NOT NULL, first_seen BIGINT NOT NULL, inventory_key TEXT);
        CREATE TABLE scans (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, image_key TEXT NOT NULL REFERENCES images (image_key),
            scanned_at BIGINT NOT NULL, advisory_version TEXT NOT NULL, findings BYTEA NOT NULL, findings_digest TEXT);
        CREATE INDEX scans_by_name ON scans (name, id);
        CREATE TABLE heads (name TEXT PRIMARY KEY, scan_id BIGINT NOT NULL);
        CREATE TABLE inventory_matches (inventory_key TEXT PRIMARY KEY, generation BIGINT NOT NULL, matcher INTEGER NOT NULL,
            findings BYTEA NOT NULL);
        CREATE TABLE registry_events (id TEXT PRIMARY KEY, action TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT, digest TEXT,
            media_type TEXT, at BIGINT NOT NULL);
        CREATE INDEX registry_events_by_repository ON registry_events (repository, action);
        CREATE TABLE jobs (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, job_key TEXT NOT NULL, image TEXT NOT NULL, repository TEXT,
            reference TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before BIGINT NOT NULL, lease_until BIGINT,
            worker TEXT, last_error TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
        CREATE UNIQUE INDEX jobs_one_pending ON jobs (job_key) WHERE state IN ('queued', 'running');
        CREATE INDEX jobs_by_state ON jobs (state, not_before);
        CREATE INDEX jobs_by_image ON jobs (repository, reference);
        CREATE TABLE reports (name TEXT PRIMARY KEY, repository TEXT NOT NULL, tag TEXT, manifest_digest TEXT, scan_id BIGINT NOT NULL,
            document BYTEA NOT NULL);
        CREATE INDEX reports_by_tag ON reports (repository, tag);
        CREATE INDEX reports_by_digest ON reports (repository, manifest_digest);
        CREATE TABLE notifications (id BIGSERIAL PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE, url TEXT NOT NULL, body BYTEA NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt BIGINT NOT NULL, delivered_at BIGINT, last_error TEXT);
        CREATE INDEX notifications_due ON notifications (delivered_at, next_attempt);
        CREATE TABLE layer_claims (digest TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL);
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
        // The live (not withdrawn) records of each import, counted once when imported: counting
        // them by parsing every record's JSON took 0.4 s of the server's CPU per process start.
        """
        ALTER TABLE imports ADD COLUMN live_records BIGINT;
        UPDATE imports SET live_records = (SELECT COUNT(*) FROM advisories a
            WHERE a.source = imports.source AND (a.record::jsonb ->> 'withdrawn') IS NULL);
        """,
        // The newest reports' findings as rows, found by id or alias through an index: listing
        // them decoded every report. Reports stored before are listed when findings are asked
        // (`findings_listed` false); names compare in byte order ("C"), as SQLite's. The keys
        // carry severity and fixability, so that the findings of an id are counted from the
        // index alone, however they are filtered.
        """
        ALTER TABLE reports ADD COLUMN findings_listed BOOLEAN NOT NULL DEFAULT false;
        CREATE INDEX reports_unlisted ON reports (name) WHERE NOT findings_listed;
        CREATE TABLE report_findings (name TEXT COLLATE "C" NOT NULL, ordinal BIGINT NOT NULL, manifest_digest TEXT, id TEXT NOT NULL,
            aliases TEXT NOT NULL, package TEXT NOT NULL, installed_version TEXT NOT NULL, fixed_version TEXT, severity TEXT NOT NULL,
            status TEXT NOT NULL);
        CREATE INDEX report_findings_in_order ON report_findings (name, ordinal);
        CREATE TABLE report_finding_keys (key TEXT NOT NULL, name TEXT COLLATE "C" NOT NULL, ordinal BIGINT NOT NULL, severity TEXT NOT NULL,
            fixed BOOLEAN NOT NULL);
        CREATE INDEX report_finding_keys_by_key ON report_finding_keys (key, name, ordinal) INCLUDE (severity, fixed);
        CREATE INDEX report_finding_keys_by_name ON report_finding_keys (name);
        """,
        // The fleet summary from rows kept as reports land (decoding every report took seconds
        // at 10,000 images): each report's row sums its image up; the layer prefixes, the
        // findings each layer brings, the images per vulnerability and the package names of each
        // image (for the image search) are kept beside, and the fleet's sums in a few rows
        // (`counted`: a report's row is in them). Every report is listed again to fill them.
        """
        ALTER TABLE reports ADD COLUMN os TEXT, ADD COLUMN critical BIGINT NOT NULL DEFAULT 0, ADD COLUMN high BIGINT NOT NULL DEFAULT 0,
            ADD COLUMN medium BIGINT NOT NULL DEFAULT 0, ADD COLUMN low BIGINT NOT NULL DEFAULT 0, ADD COLUMN unknown BIGINT NOT NULL DEFAULT 0,
            ADD COLUMN findings BIGINT NOT NULL DEFAULT 0, ADD COLUMN fixable BIGINT NOT NULL DEFAULT 0, ADD COLUMN new_findings BIGINT NOT NULL DEFAULT 0,
            ADD COLUMN resolved BIGINT NOT NULL DEFAULT 0, ADD COLUMN exploited BIGINT NOT NULL DEFAULT 0, ADD COLUMN layers BIGINT NOT NULL DEFAULT 0,
            ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0, ADD COLUMN chain TEXT, ADD COLUMN fully_checked BOOLEAN NOT NULL DEFAULT false,
            ADD COLUMN missing TEXT NOT NULL DEFAULT '', ADD COLUMN counted BOOLEAN NOT NULL DEFAULT false;
        CREATE TABLE fleet_totals (shard INTEGER PRIMARY KEY, images BIGINT NOT NULL, critical BIGINT NOT NULL, high BIGINT NOT NULL,
            medium BIGINT NOT NULL, low BIGINT NOT NULL, unknown BIGINT NOT NULL, layers BIGINT NOT NULL, bytes BIGINT NOT NULL,
            exploited_images BIGINT NOT NULL);
        CREATE TABLE fleet_gaps (gap TEXT PRIMARY KEY, images BIGINT NOT NULL);
        CREATE TABLE fleet_chains (chain TEXT PRIMARY KEY, images BIGINT NOT NULL, unchecked BIGINT NOT NULL);
        CREATE TABLE fleet_keys (key TEXT COLLATE "C" PRIMARY KEY, findings BIGINT NOT NULL, images BIGINT NOT NULL);
        CREATE INDEX reports_uncounted ON reports (name COLLATE "C") WHERE NOT counted;
        CREATE INDEX reports_by_chain ON reports (chain, (name COLLATE "C"));
        CREATE INDEX reports_most_at_risk ON reports (critical DESC, high DESC, medium DESC, low DESC, unknown DESC, (name COLLATE "C"));
        CREATE TABLE fleet_prefixes (key TEXT PRIMARY KEY, parent TEXT, layer TEXT NOT NULL, depth INTEGER NOT NULL, size BIGINT NOT NULL);
        CREATE TABLE fleet_layer_findings (layer TEXT PRIMARY KEY, findings TEXT NOT NULL);
        CREATE TABLE fleet_vulnerabilities (id TEXT COLLATE "C" PRIMARY KEY, severity TEXT NOT NULL, rank INTEGER NOT NULL, images BIGINT NOT NULL,
            packages TEXT[] NOT NULL, kev_added TEXT, ransomware BOOLEAN NOT NULL);
        CREATE TABLE image_packages (key TEXT PRIMARY KEY, names TEXT NOT NULL);
        CREATE INDEX reports_in_byte_order ON reports ((name COLLATE "C"));
        CREATE INDEX reports_by_manifest ON reports (manifest_digest);
        TRUNCATE report_findings, report_finding_keys;
        UPDATE reports SET findings_listed = false;
        """,
        // Large values compressed with lz4 rather than pglz: a service report (about 50 KB of
        // JSON) took PostgreSQL 1.0 ms of CPU to store with pglz and 0.2 ms with lz4 (PostgreSQL
        // 15, this machine). Values already stored keep their compression; a server built
        // without lz4 (or older than 14) keeps pglz (`compressionMigration`).
        """
        ALTER TABLE reports ALTER COLUMN document SET COMPRESSION lz4;
        ALTER TABLE layer_facts ALTER COLUMN facts SET COMPRESSION lz4;
        ALTER TABLE inventories ALTER COLUMN inventory SET COMPRESSION lz4;
        ALTER TABLE images ALTER COLUMN record SET COMPRESSION lz4;
        ALTER TABLE scans ALTER COLUMN findings SET COMPRESSION lz4;
        ALTER TABLE inventory_matches ALTER COLUMN findings SET COMPRESSION lz4;
        ALTER TABLE documents ALTER COLUMN bytes SET COMPRESSION lz4;
        ALTER TABLE notifications ALTER COLUMN body SET COMPRESSION lz4;
        ALTER TABLE advisories ALTER COLUMN record SET COMPRESSION lz4
        """,
        // Each image's reading (OS, layer summaries, warnings; `ImageReading`) beside its
        // inventory: a scan of a known manifest merges no layer.
        """
        ALTER TABLE images ADD COLUMN reading BYTEA
        """,
        // The fleet's trend: each day's share of the running totals' moves (by shard, as the
        // totals are), so the dashboard's trend reads a row per day and shard instead of every
        // scan ever stored. What the totals held before this is the migration day's.
        """
        CREATE TABLE fleet_days (day TEXT NOT NULL, shard INTEGER NOT NULL, images BIGINT NOT NULL, critical BIGINT NOT NULL, high BIGINT NOT NULL,
            medium BIGINT NOT NULL, low BIGINT NOT NULL, unknown BIGINT NOT NULL, PRIMARY KEY (day, shard));
        INSERT INTO fleet_days SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), shard, images, critical, high, medium, low, unknown FROM fleet_totals
        """,
        // A claim walks the queued jobs in their order and stops at its batch, asking each
        // whether a job of its image name is ahead of it (one job of a name at a time); when a
        // worker first took a job (what its attempts recorded is at or after it).
        """
        CREATE INDEX IF NOT EXISTS jobs_queued_in_order ON jobs (not_before, id) WHERE state = 'queued';
        CREATE INDEX IF NOT EXISTS jobs_pending_by_image ON jobs (image) WHERE state IN ('queued', 'running');
        ALTER TABLE jobs ADD COLUMN IF NOT EXISTS started_at BIGINT
        """,
        // Retention reaches what only pruned scans held: the images no scan names, the
        // inventories no image names.
        """
        CREATE INDEX IF NOT EXISTS scans_by_image ON scans (image_key);
        CREATE INDEX IF NOT EXISTS images_by_inventory ON images (inventory_key)
        """,
        // A withdrawn record names no package to match (imports now leave its rows out).
        """
        DELETE FROM advisory_packages p USING advisories a
        WHERE a.source = p.source AND a.id = p.id AND a.record LIKE '%"withdrawn"%' AND (a.record::jsonb ->> 'withdrawn') IS NOT NULL
        """,
        // Which bases a chain's images carry findings of: the depth of the lowest layer that
        // brought one (0: none; NULL until an image of the chain is listed again: every base).
        """
        ALTER TABLE fleet_chains ADD COLUMN IF NOT EXISTS lowest_finding_depth INTEGER
        """,
    ]

    /// The migration applied only where the server supports it (its version is recorded either way).
    static let compressionMigration = 7
    static let supportsLZ4 = "SELECT COUNT(*)::BIGINT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"

    /// Any number fathom's processes agree on (the advisory lock that serialises migrations).
    static let migrationLock: Int64 = 0x6661_7468_6f6d

    /// `mustExist`: a database with no fathom store in it is an error, not a store to create
    /// (`db prune`, `db stats`: a mistyped database name would read as an empty store).
    func migrate(mustExist: Bool = false, connected: @Sendable () -> Void = {}) async throws {
        try await client.withConnection { connection in
            connected()
            if mustExist {
                // The table, and a migration recorded in it (the table is made before the first).
                var exists = false
                for try await found in try await connection.query("SELECT to_regclass('schema_version') IS NOT NULL", logger: logger).decode(Bool.self) {
                    exists = found
                }
                if exists {
                    for try await found in try await connection.query("SELECT EXISTS (SELECT 1 FROM schema_version)", logger: logger).decode(Bool.self) {
                        exists = found
                    }
                }
                if !exists { throw FathomError(.notFound, "no fathom store in this database (fathom serve or db update makes one)") }
            }
            // Processes starting together take turns; one still waiting after two seconds says
            // why it waits (another's migrations of a large store can take minutes), then waits on.
            let asked = ContinuousClock.now
            while true {
                var locked = false
                for try await got in try await connection.query("SELECT pg_try_advisory_lock(\(Self.migrationLock))", logger: logger).decode(Bool.self) {
                    locked = got
                }
                if locked { break }
                if ContinuousClock.now - asked > .seconds(2) {
                    logger.warning("waiting for another process's migrations of the PostgreSQL store (it holds their lock)")
                    try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            do {
                try await connection.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", logger: logger)
                var version = 0
                for try await current in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_version", logger: logger)
                    .decode(Int.self)
                {
                    version = current
                }
                for (index, migration) in Self.migrations.enumerated() where index + 1 > version {
                    var applies = true
                    if index + 1 == Self.compressionMigration {
                        for try await count in try await connection.query(PostgresQuery(unsafeSQL: Self.supportsLZ4), logger: logger).decode(Int64.self) {
                            applies = count > 0
                        }
                    }
                    try await connection.withTransaction(logger: logger) { transaction in
                        for statement in migration.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) })
                        where !statement.isEmpty && applies {
                            try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await transaction.query("INSERT INTO schema_version (version) VALUES (\(index + 1))", logger: logger)
                    }
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
        }
    }

    /// Runs `body` in one transaction.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            // The error that ended it, as a statement outside a transaction would throw it: its
            // wrapper prints the whole SQL text, and hides a SQLSTATE from those who look for one.
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    /// Runs `query` (on `connection`, else on a pooled one) and hands each row to `each`.
    /// (Prepared: see `PreparedQuery`.)
    func run(_ query: PostgresQuery, on connection: PostgresConnection? = nil, _ each: (PostgresRow) throws -> Void = { _ in }) async throws {
        try await PreparedQuery.run(query, on: connection, client: client, logger: logger, each)
    }

    public func counts() async throws -> StoreCounts {
        var counts: [Int] = []
        for table in ["layer_facts", "images", "scans", "registry_events"] {
            try await run(PostgresQuery(unsafeSQL: "SELECT COUNT(*)::BIGINT FROM \(table)")) { counts.append(Int(try $0.decode(Int64.self))) }
        }
        return StoreCounts(layers: counts[0], images: counts[1], scans: counts[2], events: counts[3])
    }
}
