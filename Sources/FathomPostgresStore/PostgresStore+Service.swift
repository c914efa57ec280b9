import FathomArchive
public import FathomCore
public import Foundation
public import FathomInventory
public import FathomStore
import PostgresNIO

// The service's queue, reports and outbox on PostgreSQL: a claim takes the oldest runnable job
// with `FOR UPDATE SKIP LOCKED`, so workers on any number of machines never take the same one.
extension PostgresStore {
    static let jobColumns = "id, kind, image, repository, reference, state, attempts, worker, last_error, created_at, updated_at, payload"

    static func job(_ row: PostgresRow) throws -> Job? {
        let (id, kind, image, repository, reference, state, attempts, worker, error, created, updated, payload) = try row.decode(
            (Int64, String, String, String?, String?, String, Int32, String?, String?, Int64, Int64, String?).self)
        guard let kind = Job.Kind(rawValue: kind), let state = Job.State(rawValue: state) else { return nil }
        return Job(
            id: id, kind: kind, image: image, repository: repository, reference: reference, state: state, attempts: Int(attempts), worker: worker,
            lastError: error, createdAt: StoreTime.date(created), updatedAt: StoreTime.date(updated), payload: payload)
    }

    public func enqueue(_ job: NewJob, now: Date) async throws -> (id: Int64, added: Bool) {
        let at = StoreTime.milliseconds(now)
        // Retried while the pending job that blocked the insert finishes before it is read.
        for _ in 0..<5 {
            var inserted: Int64?
            try await run(
                """
                INSERT INTO jobs (kind, job_key, image, repository, reference, state, not_before, created_at, updated_at, payload)
                VALUES (\(job.kind.rawValue), \(job.key), \(job.image), \(job.repository), \(job.reference), 'queued', \(at), \(at), \(at),
                        \(job.payload))
                ON CONFLICT (job_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id
                """
            ) { inserted = try $0.decode(Int64.self) }
            if let inserted {
                try await run("SELECT pg_notify(\(Self.jobsChannel), '')")
                return (inserted, true)
            }
            var pending: Int64?
            try await run("SELECT id FROM jobs WHERE job_key = \(job.key) AND state IN ('queued', 'running')") { pending = try $0.decode(Int64.self) }
            if let pending { return (pending, false) }
        }
        throw FathomError(.io, "could not queue the job \(job.key)")
    }

    public func claim(worker: String, lease: Duration, limit: Int, localSources: Bool, now: Date) async throws -> [Job] {
        let at = StoreTime.milliseconds(now)
        let until = at + StoreTime.milliseconds(lease)
        // A running job whose lease ran out lost its worker: it is runnable again.
        try await run("UPDATE jobs SET state = 'queued', worker = NULL, updated_at = \(at) WHERE state = 'running' AND lease_until < \(at)")
        var jobs: [Job] = []
        try await run(
            """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = \(worker), lease_until = \(until), updated_at = \(at)
            WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND not_before <= \(at)
                             AND (\(localSources) OR NOT (image LIKE 'oci:%' OR image LIKE 'oci-archive:%'))
                         ORDER BY not_before, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.jobColumns)
            """
        ) { if let job = try Self.job($0) { jobs.append(job) } }
        return jobs.sorted { $0.id < $1.id }
    }

    public func renew(_ ids: [Int64], worker: String, lease: Duration, now: Date) async throws -> Set<Int64> {
        let at = StoreTime.milliseconds(now)
        var renewed: Set<Int64> = []
        try await run(
            """
            UPDATE jobs SET lease_until = \(at + StoreTime.milliseconds(lease)), updated_at = \(at)
            WHERE id = ANY(\(ids)) AND worker = \(worker) AND state = 'running' RETURNING id
            """
        ) { renewed.insert(try $0.decode(Int64.self)) }
        return renewed
    }

    public func complete(_ id: Int64, worker: String, now: Date) async throws {
        try await run(
            """
            UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = \(StoreTime.milliseconds(now))
            WHERE id = \(id) AND worker = \(worker)
            """)
    }

    public func release(_ id: Int64, worker: String, now: Date) async throws {
        let at = StoreTime.milliseconds(now)
        try await run(
            """
            UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), worker = NULL, lease_until = NULL, not_before = \(at),
                updated_at = \(at)
            WHERE id = \(id) AND worker = \(worker) AND state = 'running'
            """)
        try await run("SELECT pg_notify(\(Self.jobsChannel), '')")
    }

    /// The channel a queued or handed-back job is announced on (`NOTIFY`), for idle workers anywhere.
    static let jobsChannel = "fathom_jobs"

    /// The channel a layer claim given up is announced on, for the processes waiting on it.
    static let layersChannel = "fathom_layers"

    /// Waits on `LISTEN fathom_jobs` (one connection per process, opened by the first wait for a
    /// job or a layer); after a lost connection, until it is back, the limit alone (a slow poll).
    public func jobSignal() -> Int { jobWakeups.wakes }

    public func waitForJobs(since signal: Int, upTo limit: Duration) async {
        startListening()
        await jobWakeups.wait(since: signal, upTo: limit)
    }

    public func layerSignal() -> Int { layerWakeups.wakes }

    public func waitForLayer(_ digest: Digest, since signal: Int, upTo limit: Duration) async {
        startListening()
        await layerWakeups.wait(for: digest.description, since: signal, upTo: limit)
    }

    func startListening() {
        listener.withLock { listener in
            guard listener == nil else { return }
            listener = Task { [weak self] in await self?.listen() }
        }
    }

    /// Both channels on one connection.
    func listen() async {
        let (jobs, layers) = (jobWakeups, layerWakeups)
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for try await _ in try await connection.listen(Self.jobsChannel) { jobs.wake() } }
                        group.addTask {
                            for try await notification in try await connection.listen(Self.layersChannel) { layers.wake(notification.payload) }
                        }
                        // Claims given up before the listening began (or while it was lost) were not heard.
                        layers.wakeAll()
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("listening for jobs and layers failed; polling until it is back", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    public func fail(_ id: Int64, worker: String, error: String, retryAfter: Duration, maxAttempts: Int, now: Date) async throws {
        let at = StoreTime.milliseconds(now)
        try await run(
            """
            UPDATE jobs SET state = CASE WHEN attempts >= \(Int32(maxAttempts)) THEN 'dead' ELSE 'queued' END,
                not_before = \(at + StoreTime.milliseconds(retryAfter)), lease_until = NULL, last_error = \(error), updated_at = \(at)
            WHERE id = \(id) AND worker = \(worker)
            """)
    }

    public func jobs(state: Job.State?, limit: Int, before: Int64?) async throws -> [Job] {
        var jobs: [Job] = []
        try await run(
            """
            SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE (\(state?.rawValue)::TEXT IS NULL OR state = \(state?.rawValue))
                AND id < \(before ?? Int64.max)
            ORDER BY id DESC LIMIT \(Int64(limit))
            """
        ) { if let job = try Self.job($0) { jobs.append(job) } }
        return jobs
    }

    public func job(_ id: Int64) async throws -> Job? {
        var job: Job?
        try await run("SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE id = \(id)") { job = try Self.job($0) }
        return job
    }

    public func latestJob(repository: String, reference: String) async throws -> Job? {
        var job: Job?
        try await run(
            "SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE repository = \(repository) AND reference = \(reference) ORDER BY id DESC LIMIT 1"
        ) { job = try Self.job($0) }
        return job
    }

    public func jobCounts() async throws -> [Job.State: Int] {
        var counts = Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0, 0) })
        try await run("SELECT state, COUNT(*)::BIGINT FROM jobs GROUP BY state") { row in
            let (state, count) = try row.decode((String, Int64).self)
            if let state = Job.State(rawValue: state) { counts[state] = Int(count) }
        }
        return counts
    }

    // MARK: reports

    public func storeReport(
        _ document: [UInt8], name: String, repository: String, tag: String?, manifestDigest: Digest?, findings: [ReportFinding]
    ) async throws {
        // The report's row first: its lock keeps two writers of one name from mixing their
        // findings (the second's statements see the first's once it has committed).
        try await transaction { connection in
            try await run(
                """
                INSERT INTO reports (name, repository, tag, manifest_digest, scan_id, document, findings_listed)
                VALUES (\(name), \(repository), \(tag), \(manifestDigest?.description), COALESCE((SELECT scan_id FROM heads WHERE name = \(name)), 0),
                    \(Data(document)), true)
                ON CONFLICT (name) DO UPDATE SET repository = EXCLUDED.repository, tag = EXCLUDED.tag, manifest_digest = EXCLUDED.manifest_digest,
                    scan_id = EXCLUDED.scan_id, document = EXCLUDED.document, findings_listed = true
                """, on: connection)
            try await replaceFindings(of: name, manifestDigest: manifestDigest?.description, with: findings, on: connection)
        }
    }

    /// Replaces the listed findings of `name` in one statement (array binds: one row per finding
    /// and one per id or alias it is found by).
    func replaceFindings(of name: String, manifestDigest: String?, with findings: [ReportFinding], on connection: PostgresConnection) async throws {
        var keys: [String] = []
        var keyOrdinals: [Int64] = []
        var keySeverities: [String] = []
        var keyFixed: [Bool] = []
        for (ordinal, finding) in findings.enumerated() {
            for key in finding.keys {
                keys.append(key)
                keyOrdinals.append(Int64(ordinal))
                keySeverities.append(finding.severity)
                keyFixed.append(finding.fixedVersion != nil)
            }
        }
        try await run(
            """
            WITH gone AS (DELETE FROM report_findings WHERE name = \(name)),
                gone_keys AS (DELETE FROM report_finding_keys WHERE name = \(name)),
                listed AS (
                    INSERT INTO report_findings (name, ordinal, manifest_digest, id, aliases, package, installed_version, fixed_version, severity, status)
                    SELECT \(name), o, \(manifestDigest), i, a, p, v, NULLIF(x, ''), s, t
                    FROM unnest(\(findings.indices.map { Int64($0) })::BIGINT[], \(findings.map(\.id))::TEXT[],
                        \(findings.map { ReportFinding.joined($0.aliases) })::TEXT[], \(findings.map(\.package))::TEXT[],
                        \(findings.map(\.installedVersion))::TEXT[], \(findings.map { $0.fixedVersion ?? "" })::TEXT[],
                        \(findings.map(\.severity))::TEXT[], \(findings.map(\.status))::TEXT[]) AS f(o, i, a, p, v, x, s, t))
            INSERT INTO report_finding_keys (key, name, ordinal, severity, fixed)
            SELECT k, \(name), o, s, x FROM unnest(\(keys)::TEXT[], \(keyOrdinals)::BIGINT[], \(keySeverities)::TEXT[], \(keyFixed)::BOOLEAN[]) AS f(k, o, s, x)
            """, on: connection)
    }

    public func findings(_ filter: FindingsFilter, after: (image: String, ordinal: Int)?, limit: Int) async throws -> FindingsPage {
        // Each shape of filter is a statement of its own (prepared once): a condition left in
        // for "any" would keep the planner from the index on ids.
        var binds = PostgresBindings()
        var conditions: [String] = []
        let from: String
        let lead: String
        if let id = filter.id {
            from = "report_finding_keys k JOIN report_findings f ON f.name = k.name AND f.ordinal = k.ordinal"
            lead = "k"
            binds.append(id)
            conditions.append("k.key = $\(binds.count)")
        } else {
            from = "report_findings f"
            lead = "f"
        }
        // Severity and fixability are read where the listing leads: the keys carry them.
        if let severities = filter.severities {
            binds.append(severities)
            conditions.append("\(lead).severity = ANY($\(binds.count)::TEXT[])")
        }
        if let fixable = filter.fixable {
            conditions.append(lead == "k" ? (fixable ? "k.fixed" : "NOT k.fixed") : (fixable ? "f.fixed_version IS NOT NULL" : "f.fixed_version IS NULL"))
        }
        let filtered = conditions.isEmpty ? "TRUE" : conditions.joined(separator: " AND ")
        var count = 0
        var images = 0
        // Counted per name in the index's order (no sort, as COUNT(DISTINCT) would make); an
        // id's findings from its keys alone.
        let counted = lead == "k" ? "report_finding_keys k" : from
        try await run(
            PostgresQuery(
                unsafeSQL: "SELECT COALESCE(SUM(n), 0)::BIGINT, COUNT(*)::BIGINT FROM (SELECT \(lead).name, COUNT(*) AS n FROM \(counted) "
                    + "WHERE \(filtered) GROUP BY \(lead).name) AS per_image", binds: binds)
        ) { row in
            let (findings, names) = try row.decode((Int64, Int64).self)
            (count, images) = (Int(findings), Int(names))
        }
        var page = binds
        var sql = "SELECT f.name, f.manifest_digest, f.ordinal, f.id, f.aliases, f.package, f.installed_version, f.fixed_version, f.severity, f.status "
            + "FROM \(from) WHERE \(filtered)"
        if let after {
            page.append(after.image)
            page.append(Int64(after.ordinal))
            sql += " AND (\(lead).name, \(lead).ordinal) > ($\(page.count - 1), $\(page.count))"
        }
        // Byte order, as SQLite's, whatever the database's collation (the columns are "C").
        page.append(Int64(limit + 1))
        sql += " ORDER BY \(lead).name, \(lead).ordinal LIMIT $\(page.count)"
        var listed: [ListedFinding] = []
        try await run(PostgresQuery(unsafeSQL: sql, binds: page)) { row in
            let (name, digest, ordinal, id, aliases, package, installed, fixed, severity, status) = try row.decode(
                (String, String?, Int64, String, String, String, String, String?, String, String).self)
            listed.append(
                ListedFinding(
                    image: name, manifestDigest: digest, ordinal: Int(ordinal),
                    finding: ReportFinding(
                        id: id, aliases: ReportFinding.split(aliases), package: package, installedVersion: installed, fixedVersion: fixed,
                        severity: severity, status: status)))
        }
        let more = listed.count > limit
        return FindingsPage(findings: Array(listed.prefix(limit)), more: more, count: count, images: images)
    }

    public func unlistedReports(limit: Int) async throws -> [(name: String, document: [UInt8])] {
        var reports: [(name: String, document: [UInt8])] = []
        try await run("SELECT name, document FROM reports WHERE NOT findings_listed ORDER BY name COLLATE \"C\" LIMIT \(Int64(limit))") { row in
            let (name, document) = try row.decode((String, Data).self)
            reports.append((name, Array(document)))
        }
        return reports
    }

    public func listFindings(name: String, document: [UInt8], findings: [ReportFinding]) async throws {
        try await transaction { connection in
            var digest: String??
            try await run(
                """
                UPDATE reports SET findings_listed = true WHERE name = \(name) AND NOT findings_listed AND document = \(Data(document))
                RETURNING manifest_digest
                """, on: connection
            ) { digest = .some(try $0.decode(String?.self)) }
            guard let digest else { return }
            try await replaceFindings(of: name, manifestDigest: digest, with: findings, on: connection)
        }
    }

    public func report(name: String) async throws -> [UInt8]? {
        var document: [UInt8]?
        try await run("SELECT document FROM reports WHERE name = \(name)") { document = Array(try $0.decode(Data.self)) }
        return document
    }

    public func reportedScanTime(name: String) async throws -> Date? {
        var at: Date?
        try await run(
            """
            SELECT s.scanned_at FROM reports r JOIN heads h ON h.name = r.name AND h.scan_id = r.scan_id JOIN scans s ON s.id = h.scan_id
            WHERE r.name = \(name)
            """
        ) { at = StoreTime.date(try $0.decode(Int64.self)) }
        return at
    }

    public func reports(after name: String?, limit: Int) async throws -> [(name: String, document: [UInt8])] {
        var reports: [(name: String, document: [UInt8])] = []
        // Byte order, as SQLite orders them, whatever the database's collation: a page's cursor
        // is a name, compared the same way everywhere.
        try await run(
            "SELECT name, document FROM reports WHERE name COLLATE \"C\" > \(name ?? "") ORDER BY name COLLATE \"C\" LIMIT \(Int64(limit))"
        ) { row in
            let (name, document) = try row.decode((String, Data).self)
            reports.append((name, Array(document)))
        }
        return reports
    }

    public func reports(repository: String, reference: String) async throws -> [(name: String, document: [UInt8])] {
        var found: [(name: String, document: [UInt8])] = []
        try await run(
            """
            SELECT name, document FROM reports WHERE repository = \(repository) AND (tag = \(reference) OR manifest_digest = \(reference))
            ORDER BY scan_id DESC
            """
        ) { row in
            let (name, document) = try row.decode((String, Data).self)
            found.append((name, Array(document)))
        }
        return found
    }

    public func scanHistory(repository: String, reference: String) async throws -> [ScanSummary] {
        var names: [String] = []
        try await run(
            "SELECT name FROM reports WHERE repository = \(repository) AND (tag = \(reference) OR manifest_digest = \(reference)) ORDER BY name"
        ) { names.append(try $0.decode(String.self)) }
        var summaries: [ScanSummary] = []
        for name in names {
            var scans: [(Date, String?, String, [StoredFinding])] = []
            try await run(
                """
                SELECT s.scanned_at, i.manifest_digest, s.advisory_version, s.findings FROM scans s
                JOIN images i ON i.image_key = s.image_key WHERE s.name = \(name) ORDER BY s.id
                """
            ) { row in
                let (at, digest, version, findings) = try row.decode((Int64, String?, String, Data).self)
                scans.append((StoreTime.date(at), digest, version, StoredFinding.decode(Array(findings))))
            }
            summaries += ScanSummary.history(name: name, scans: scans)
        }
        return summaries.sorted { $0.scannedAt > $1.scannedAt }
    }

    // MARK: notifications

    public func enqueueNotifications(_ notifications: [OutgoingNotification], now: Date) async throws {
        guard !notifications.isEmpty else { return }
        let at = StoreTime.milliseconds(now)
        try await transaction { connection in
            for notification in notifications {
                try await run(
                    """
                    INSERT INTO notifications (delivery_id, url, body, next_attempt)
                    VALUES (\(notification.deliveryID), \(notification.url), \(Data(notification.body)), \(at)) ON CONFLICT (delivery_id) DO NOTHING
                    """, on: connection)
            }
        }
    }

    public func dueNotifications(limit: Int, lease: Duration, now: Date) async throws -> [OutgoingNotification] {
        let at = StoreTime.milliseconds(now)
        var due: [OutgoingNotification] = []
        try await run(
            """
            UPDATE notifications SET next_attempt = \(at + StoreTime.milliseconds(lease))
            WHERE id IN (SELECT id FROM notifications WHERE delivered_at IS NULL AND next_attempt <= \(at)
                ORDER BY next_attempt, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
            RETURNING delivery_id, url, body, attempts
            """
        ) { row in
            let (id, url, body, attempts) = try row.decode((String, String, Data, Int32).self)
            due.append(OutgoingNotification(deliveryID: id, url: url, body: Array(body), attempts: Int(attempts)))
        }
        return due
    }

    public func markDelivered(_ deliveryID: String, now: Date) async throws {
        try await run(
            """
            UPDATE notifications SET delivered_at = \(StoreTime.milliseconds(now)), attempts = attempts + 1, last_error = NULL
            WHERE delivery_id = \(deliveryID)
            """)
    }

    public func markFailed(_ deliveryID: String, error: String, retryAt: Date) async throws {
        try await run(
            """
            UPDATE notifications SET attempts = attempts + 1, last_error = \(error), next_attempt = \(StoreTime.milliseconds(retryAt))
            WHERE delivery_id = \(deliveryID)
            """)
    }

    public func notificationCounts() async throws -> (delivered: Int, waiting: Int) {
        var counts = (0, 0)
        try await run("SELECT COUNT(delivered_at)::BIGINT, (COUNT(*) - COUNT(delivered_at))::BIGINT FROM notifications") { row in
            let (delivered, waiting) = try row.decode((Int64, Int64).self)
            counts = (Int(delivered), Int(waiting))
        }
        return counts
    }

    // MARK: layer claims

    public func claimLayer(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> Bool {
        let at = StoreTime.milliseconds(now)
        var claimed = false
        try await run(
            """
            INSERT INTO layer_claims (digest, owner, until) VALUES (\(digest.description), \(owner), \(at + StoreTime.milliseconds(lease)))
            ON CONFLICT (digest) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
            WHERE layer_claims.until < \(at) OR layer_claims.owner = EXCLUDED.owner RETURNING digest
            """
        ) { _ in claimed = true }
        return claimed
    }

    public func releaseLayer(_ digest: Digest, owner: String) async throws {
        try await run(
            """
            WITH released AS (DELETE FROM layer_claims WHERE digest = \(digest.description) AND owner = \(owner) RETURNING 1)
            SELECT pg_notify(\(Self.layersChannel), \(digest.description)) FROM released
            """)
    }

    /// The look for stored facts and the claim in one statement (the claim only when there are
    /// none). Unlike the composed default, it does not look again after claiming: a holder that
    /// stores its facts and gives its claim up while this statement runs makes this process read
    /// the layer once more (the same facts, stored again), which is rarer and cheaper than a
    /// third statement for every layer.
    public func factsOrClaim(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> (facts: LayerFacts?, claimed: Bool) {
        let at = StoreTime.milliseconds(now)
        let version = Int32(LayerFacts.analyzerVersion)
        var answer: (bytes: Data?, claimed: Bool) = (nil, false)
        try await run(
            """
            WITH known AS (SELECT facts FROM layer_facts WHERE digest = \(digest.description) AND analyzer_version = \(version)),
            claim AS (
                INSERT INTO layer_claims (digest, owner, until)
                SELECT \(digest.description), \(owner), \(at + StoreTime.milliseconds(lease)) WHERE NOT EXISTS (SELECT 1 FROM known)
                ON CONFLICT (digest) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                WHERE layer_claims.until < \(at) OR layer_claims.owner = EXCLUDED.owner RETURNING 1)
            SELECT (SELECT facts FROM known), EXISTS (SELECT 1 FROM claim)
            """
        ) { answer = try $0.decode((Data?, Bool).self) }
        // A row the current code cannot read is treated as absent: the layer is read again.
        if let bytes = answer.bytes, let facts = try? JSONDecoder().decode(LayerFacts.self, from: bytes) { return (facts, false) }
        if answer.bytes != nil, !answer.claimed {
            return (nil, try await claimLayer(digest, owner: owner, lease: lease, now: now))
        }
        return (nil, answer.claimed)
    }

    /// The facts stored and the claim given up in one statement.
    public func storeClaimedLayerFacts(_ facts: LayerFacts, for digest: Digest, owner: String) async throws {
        let bytes = try JSONEncoder().encode(facts)
        let version = Int32(facts.analyzerVersion)
        let now = Int64(Date().timeIntervalSince1970)
        try await run(
            """
            WITH released AS (DELETE FROM layer_claims WHERE digest = \(digest.description) AND owner = \(owner) RETURNING 1),
            stored AS (
                INSERT INTO layer_facts (digest, analyzer_version, facts, compressed_size, stored_at)
                VALUES (\(digest.description), \(version), \(bytes), \(facts.summary.compressedSize), \(now))
                ON CONFLICT (digest, analyzer_version) DO UPDATE SET facts = EXCLUDED.facts, compressed_size = EXCLUDED.compressed_size,
                    stored_at = EXCLUDED.stored_at)
            SELECT pg_notify(\(Self.layersChannel), \(digest.description)) FROM released
            """)
    }
}
