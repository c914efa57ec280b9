import FathomArchive
public import FathomCore
public import Foundation
public import FathomInventory
public import FathomStore
import PostgresNIO

// The service's queue, reports and outbox on PostgreSQL: a claim takes the oldest runnable job
// with `FOR UPDATE SKIP LOCKED`, so workers on any number of machines never take the same one.
extension PostgresStore {
    static let jobColumns = "id, kind, image, repository, reference, state, attempts, worker, last_error, created_at, updated_at, started_at, payload, job_key"

    static func job(_ row: PostgresRow) throws -> Job? {
        let (id, kind, image, repository, reference, state, attempts, worker, error, created, updated, started, payload, key) = try row.decode(
            (Int64, String, String, String?, String?, String, Int32, String?, String?, Int64, Int64, Int64?, String?, String).self)
        guard let kind = Job.Kind(rawValue: kind), let state = Job.State(rawValue: state) else { return nil }
        return Job(
            id: id, kind: kind, image: image, repository: repository, reference: reference, state: state, attempts: Int(attempts), worker: worker,
            lastError: error, createdAt: StoreTime.date(created), updatedAt: StoreTime.date(updated), startedAt: started.map(StoreTime.date),
            payload: payload, key: key)
    }

    public func enqueue(_ job: NewJob, now: Date) async throws -> (id: Int64, added: Bool) {
        let at = StoreTime.milliseconds(now)
        // Retried while the pending job that blocked the insert finishes before it is read.
        for _ in 0..<5 {
            var inserted: Int64?
            try await transaction { connection in
                // The jobs of one name run in id order: its enqueues take their ids one at a time,
                // each committed before the next draws, so a claim never sees a later job of the
                // name before an earlier one (a sequence hands out ids in the order asked, not in
                // the order their transactions commit).
                if !job.image.isEmpty {
                    try await run("SELECT pg_advisory_xact_lock(\(Self.enqueueLockSpace), hashtext(\(job.image)))", on: connection)
                }
                try await run(
                    """
                    INSERT INTO jobs (kind, job_key, image, repository, reference, state, not_before, created_at, updated_at, payload)
                    VALUES (\(job.kind.rawValue), \(job.key), \(job.image), \(job.repository), \(job.reference), 'queued',
                            \(at + StoreTime.milliseconds(job.delay)), \(at), \(at), \(job.payload))
                    ON CONFLICT (job_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id
                    """, on: connection
                ) { inserted = try $0.decode(Int64.self) }
            }
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

    public func claim(worker: String, lease: Duration, limit: Int, localSources: Bool, maxAttempts: Int, now: Date) async throws -> [Job] {
        try await complete([], thenClaim: limit, worker: worker, lease: lease, localSources: localSources, maxAttempts: maxAttempts, now: now)
    }

    public func complete(
        _ done: [Int64], thenClaim limit: Int, worker: String, lease: Duration, localSources: Bool, maxAttempts: Int, now: Date
    ) async throws -> [Job] {
        // A process that claims jobs waits for them too; and while it listens, the advisory
        // version its jobs ask for is kept between imports.
        startListening()
        let at = StoreTime.milliseconds(now)
        let until = at + StoreTime.milliseconds(lease)
        // A running job whose lease ran out lost its worker: it is runnable again. Looked for
        // once a second at most: a worker refilling its batch claims once per job, and this was
        // a second round trip for each (a lease is a minute; a second more is nothing).
        let due = limit > 0 && expiredChecked.withLock { last in
            guard let checked = last, abs(at - checked) < 1000 else {
                last = at
                return true
            }
            return false
        }
        if due {
            // Not the jobs this worker is ending here: finished, they are not to run again. One
            // on its last attempt is left to `expireLeases`. Runnable within half a lease at random:
            // the jobs a worker held together are not all taken together again (one of them may
            // be what killed it).
            try await run(
                """
                UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, updated_at = \(at),
                    last_error = \(Job.leaseRanOut.before) || COALESCE(worker, '') || \(Job.leaseRanOut.after),
                    not_before = \(at) + floor(random() * \(StoreTime.milliseconds(lease) / 2))::BIGINT
                WHERE attempts < \(Int32(maxAttempts)) AND state = 'running' AND lease_until < \(at) AND NOT (id = ANY(\(done)::BIGINT[]) AND worker = \(worker))
                """)
        }
        // The ends and the claim in one statement: both see the jobs as they were before it, so
        // a job of a name that ends here leaves its successor to the next claim. The successor
        // is announced as by `complete`, from the end's RETURNING: a WITH query that only reads
        // runs only if the statement reads it, one that writes always runs, whole.
        var jobs: [Job] = []
        try await run(
            """
            WITH ended AS (
                UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = \(at), payload = \(unescaped: Self.withoutSecret)
                WHERE id = ANY(\(done)::BIGINT[]) AND worker = \(worker)
                RETURNING CASE WHEN image <> '' AND EXISTS (SELECT 1 FROM jobs q WHERE q.image = jobs.image AND q.state = 'queued')
                    THEN pg_notify('\(unescaped: Self.jobsChannel)', '') END)
            UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = \(worker), lease_until = \(until), updated_at = \(at),
                started_at = COALESCE(started_at, \(at))
            WHERE id IN (SELECT id FROM jobs j WHERE state = 'queued' AND not_before <= \(at) AND kind = ANY(\(Job.Kind.allCases.map(\.rawValue)))
                             AND (\(localSources) OR NOT (image LIKE 'oci:%' OR image LIKE 'oci-archive:%'))
                             AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.image = j.image AND j.image <> ''
                                             AND e.state IN ('queued', 'running')
                                             AND (e.state = 'running' OR (e.id < j.id AND e.not_before <= \(at))))
                         ORDER BY not_before, id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.jobColumns)
            """
        ) { if let job = try Self.job($0) { jobs.append(job) } }
        return jobs.sorted { $0.id < $1.id }
    }

    public func expireLeases(maxAttempts: Int, now: Date) async throws -> [Job] {
        let at = StoreTime.milliseconds(now)
        var jobs: [Job] = []
        // A row another caller ended first fails the condition again once its lock is free:
        // each job is returned once.
        try await run(
            """
            WITH ended AS (
                UPDATE jobs SET state = 'dead', worker = NULL, lease_until = NULL, updated_at = \(at),
                    last_error = \(Job.leaseRanOut.before) || COALESCE(worker, '') || \(Job.leaseRanOut.after),
                    payload = \(unescaped: Self.withoutSecret)
                WHERE state = 'running' AND lease_until < \(at) AND attempts >= \(Int32(maxAttempts))
                RETURNING \(unescaped: Self.jobColumns)),
            -- A dead job may have held the next of its name back: announced, as by fail.
            announced AS (\(unescaped: Self.announceSuccessor))
            SELECT \(unescaped: Self.jobColumns) FROM ended WHERE (SELECT count(*) FROM announced) >= 0
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

    /// The payload without its `Job.secretPayloadField` member (a base64 string, which holds no
    /// quote), cut from the text: a cast to JSONB would refuse a payload holding `\u0000` and
    /// leave the job unable to end, and would rewrite every other payload.
    static let withoutSecret = """
        CASE WHEN strpos(payload, '"\(Job.secretPayloadField)"') = 0 THEN payload
        ELSE regexp_replace(regexp_replace(payload, ',\\s*"\(Job.secretPayloadField)"\\s*:\\s*"[^"]*"', ''),
            '"\(Job.secretPayloadField)"\\s*:\\s*"[^"]*"\\s*,?', '') END
        """

    public func complete(_ id: Int64, worker: String, now: Date) async throws {
        try await run(
            """
            WITH ended AS (
                UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = \(StoreTime.milliseconds(now)),
                    payload = \(unescaped: Self.withoutSecret)
                WHERE id = \(id) AND worker = \(worker) RETURNING image)
            \(unescaped: Self.announceSuccessor)
            """)
    }

    /// Announces (NOTIFY) the end of the attempt in `ended` (done, dead, or waiting out a
    /// retry's backoff) when a job of its image name waits for it (the jobs of a name run in
    /// turn), so an idle worker takes that one at once.
    static let announceSuccessor = """
        SELECT pg_notify('\(jobsChannel)', '') FROM ended
        WHERE ended.image <> '' AND EXISTS (SELECT 1 FROM jobs q WHERE q.image = ended.image AND q.state = 'queued')
        """

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

    /// The advisory locks an enqueue of a name takes (the two-key form: apart from the
    /// migrations' lock).
    public static let enqueueLockSpace: Int32 = 0x6661_7468  // "fath"

    /// The channel a queued or handed-back job is announced on (`NOTIFY`), for idle workers anywhere.
    static let jobsChannel = "fathom_jobs"

    /// The channel a layer claim given up is announced on, for the processes waiting on it.
    static let layersChannel = "fathom_layers"

    /// The channel an advisory import is announced on as it commits (the version it changes is
    /// kept by listening processes until then).
    static let advisoriesChannel = "fathom_advisories"

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

    /// The three channels on one connection.
    func listen() async {
        let (jobs, layers, versions) = (jobWakeups, layerWakeups, advisoryVersions)
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { for try await _ in try await connection.listen(Self.jobsChannel) { jobs.wake() } }
                        group.addTask {
                            for try await notification in try await connection.listen(Self.layersChannel) { layers.wake(notification.payload) }
                        }
                        group.addTask {
                            let imports = try await connection.listen(Self.advisoriesChannel)
                            // From here on an import is heard; whatever way this ends, it is not.
                            versions.listening(true)
                            defer { versions.listening(false) }
                            for try await _ in imports { versions.invalidate() }
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

    @discardableResult
    public func fail(_ id: Int64, worker: String, error: String, retryAfter: Duration, maxAttempts: Int, now: Date) async throws -> Bool {
        let at = StoreTime.milliseconds(now)
        var dead = false
        try await run(
            """
            WITH ended AS (
                UPDATE jobs SET state = CASE WHEN attempts >= \(Int32(maxAttempts)) THEN 'dead' ELSE 'queued' END,
                    not_before = \(at + StoreTime.milliseconds(retryAfter)), lease_until = NULL, last_error = \(error), updated_at = \(at),
                    payload = CASE WHEN attempts >= \(Int32(maxAttempts)) THEN \(unescaped: Self.withoutSecret) ELSE payload END
                WHERE id = \(id) AND worker = \(worker) RETURNING image, state),
            announced AS (\(unescaped: Self.announceSuccessor))
            SELECT state = 'dead' FROM ended WHERE (SELECT count(*) FROM announced) >= 0
            """
        ) { dead = try $0.decode(Bool.self) }
        return dead
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

    public func latestJobs(repository: String, reference: String, limit: Int) async throws -> [Job] {
        var jobs: [Job] = []
        try await run(
            "SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE repository = \(repository) AND reference = \(reference) ORDER BY id DESC LIMIT \(Int64(limit))"
        ) { if let job = try Self.job($0) { jobs.append(job) } }
        return jobs
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
        _ document: [UInt8], name: String, repository: String, tag: String?, manifestDigest: Digest?, listing: ReportListing
    ) async throws {
        // The report's row first: its lock keeps two writers of one name from mixing their
        // findings (the second's statements see the first's once it has committed). The upsert
        // leaves the row's sums as they were: it returns them, the old image the listing moves from.
        // Before the row, the lineage lock, shared (`lineageLockSpace`).
        try await transaction { connection in
            var old: ImageRow?
            try await run(
                """
                INSERT INTO reports (name, repository, tag, manifest_digest, scan_id, document, findings_listed)
                SELECT \(name), \(repository), \(tag), \(manifestDigest?.description), COALESCE((SELECT scan_id FROM heads WHERE name = \(name)), 0),
                    \(Data(document)), true
                FROM (SELECT pg_advisory_xact_lock_shared(\(Self.lineageLockSpace), 0)) AS lineage_shared
                ON CONFLICT (name) DO UPDATE SET repository = EXCLUDED.repository, tag = EXCLUDED.tag, manifest_digest = EXCLUDED.manifest_digest,
                    scan_id = EXCLUDED.scan_id, document = EXCLUDED.document, findings_listed = true
                RETURNING counted, \(unescaped: Self.imageColumns)
                """, on: connection
            ) { row in
                if try Self.firstIsTrue(row) { old = try Self.imageRow(row, from: 1) }
            }
            try await replaceListing(of: name, manifestDigest: manifestDigest?.description, with: listing, old: old, on: connection)
        }
    }

    public func removeImages(_ names: [String]) async throws -> [String] {
        var removed: [String] = []
        for name in names {
            // Each in a transaction of its own: the report's row is locked first, as a writer of it does.
            let known = try await transaction { connection in
                var old: ImageRow?
                var reported = false
                var headed = false
                try await holdLineageShared(on: connection)
                try await run("DELETE FROM reports WHERE name = \(name) RETURNING counted, \(unescaped: Self.imageColumns)", on: connection) { row in
                    reported = true
                    if try Self.firstIsTrue(row) { old = try Self.imageRow(row, from: 1) }
                }
                try await run("DELETE FROM heads WHERE name = \(name) RETURNING 1", on: connection) { _ in headed = true }
                var failed = false
                try await run("DELETE FROM jobs WHERE state = 'dead' AND kind = 'scan' AND image = \(name) RETURNING 1", on: connection) { _ in failed = true }
                // Only with the row it deleted (and so locked): a report being stored meanwhile
                // keeps its findings and counts, and is removed once it has landed.
                if reported { try await replaceListing(of: name, manifestDigest: nil, with: nil, old: old, on: connection) }
                return reported || headed || failed
            }
            if known { removed.append(name) }
        }
        return removed
    }

    /// `ReportListing.layerFindings(listed:stored:own:)` in SQL, for the listing's upsert of a
    /// layer's row: the listed keys, and the stored ones for a package the image does not have
    /// from the layer (`layer_input.p`, its packages' names), sorted by bytes.
    static let mergedLayerFindings = """
        (SELECT coalesce(string_agg(k, E'\\n' ORDER BY k COLLATE "C"), '') FROM (
            SELECT unnest(string_to_array(EXCLUDED.findings, E'\\n')) AS k
            UNION
            SELECT o FROM unnest(string_to_array(fleet_layer_findings.findings, E'\\n')) AS o
            WHERE NOT split_part(o, ' ', 2) = ANY ((SELECT string_to_array(p, E'\\n') FROM layer_input WHERE l = EXCLUDED.layer)::TEXT[])) AS m
        WHERE k <> '')
        """

    /// Replaces the listing of `name` in one statement (array binds): its image's sums on its
    /// report's row; its findings, one row per finding and one per id or alias it is found by;
    /// its package names; the prefixes and layer findings it brings; and the fleet's running
    /// counts, moved by the difference from `old` (what the row held, if counted): images per
    /// vulnerability (and what the newest report says of one it keeps: a KEV entry since),
    /// findings and images per id or alias, the sums, gaps and chains. Counters are written in
    /// key order, so two writers take their locks in the same order; a row nothing changes is
    /// not written. No listing takes the name's out of every count (its image is leaving the
    /// fleet, its row already deleted).
    func replaceListing(
        of name: String, manifestDigest: String?, with given: ReportListing?, old: ImageRow?, on connection: PostgresConnection
    ) async throws {
        let listing = given ?? ReportListing(
            findings: [],
            image: old ?? ImageRow(
                name: name, manifestDigest: nil, os: nil, bySeverity: [:], findings: 0, fixable: 0, new: 0, resolved: 0, exploited: 0, layers: 0, bytes: 0,
                chain: nil, fullyChecked: true, missing: []),
            prefixes: [], layerFindings: [:], vulnerabilities: [], packages: [])
        let image = listing.image
        let change = FleetTotalsChange(from: old, to: given)
        let counts = ImageRow.severities.map { Int64(image.bySeverity[$0] ?? 0) }
        let findings = listing.findings
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
        let vulnerabilities = listing.vulnerabilities.sorted { Array($0.id.utf8).lexicographicallyPrecedes(Array($1.id.utf8)) }
        let layers = listing.layerFindings.keys.sorted()
        let gaps = change.gaps.keys.sorted()
        let chains = change.chainRows
        // The old findings' rows are in the counts only if the row was counted (a report an
        // earlier fathom wrote has rows no count holds).
        let counted = old != nil
        let sums = [Int64(change.images)] + change.bySeverity.map(Int64.init) + [Int64(change.layers), change.bytes, Int64(change.exploitedImages)]
        try await run(
            """
            WITH summed AS (
                    UPDATE reports SET counted = true, os = \(image.os), critical = \(counts[0]), high = \(counts[1]), medium = \(counts[2]),
                        low = \(counts[3]), unknown = \(counts[4]), findings = \(Int64(image.findings)), fixable = \(Int64(image.fixable)),
                        new_findings = \(Int64(image.new)), resolved = \(Int64(image.resolved)), exploited = \(Int64(image.exploited)),
                        layers = \(Int64(image.layers)), bytes = \(image.bytes), chain = \(image.chain), fully_checked = \(image.fullyChecked),
                        missing = \(image.missing.joined(separator: "\n"))
                    WHERE name = \(name) AND \(given != nil)),
                gone AS (DELETE FROM report_findings WHERE name = \(name) RETURNING id),
                gone_keys AS (DELETE FROM report_finding_keys WHERE name = \(name) RETURNING key),
                listed AS (
                    INSERT INTO report_findings (name, ordinal, manifest_digest, id, aliases, package, installed_version, fixed_version, severity, status)
                    SELECT \(name), o, \(manifestDigest), i, a, p, v, NULLIF(x, ''), s, t
                    FROM unnest(\(findings.indices.map { Int64($0) })::BIGINT[], \(findings.map(\.id))::TEXT[],
                        \(findings.map { ReportFinding.joined($0.aliases) })::TEXT[], \(findings.map(\.package))::TEXT[],
                        \(findings.map(\.installedVersion))::TEXT[], \(findings.map { $0.fixedVersion ?? "" })::TEXT[],
                        \(findings.map(\.severity))::TEXT[], \(findings.map(\.status))::TEXT[]) AS f(o, i, a, p, v, x, s, t)),
                listed_keys AS (
                    INSERT INTO report_finding_keys (key, name, ordinal, severity, fixed)
                    SELECT k, \(name), o, s, x FROM unnest(\(keys)::TEXT[], \(keyOrdinals)::BIGINT[], \(keySeverities)::TEXT[], \(keyFixed)::BOOLEAN[]) AS f(k, o, s, x)),
                key_moves AS (
                    SELECT k, SUM(f) AS f, SUM(i) AS i FROM (
                        SELECT k, COUNT(*) AS f, 1 AS i FROM unnest(\(keys)::TEXT[]) AS n(k) GROUP BY k
                        UNION ALL
                        SELECT key, -COUNT(*), -1 FROM gone_keys WHERE \(counted) GROUP BY key) AS m
                    GROUP BY k HAVING SUM(f) <> 0 OR SUM(i) <> 0),
                keys_counted AS (
                    INSERT INTO fleet_keys (key, findings, images) SELECT k, f, i FROM key_moves ORDER BY k COLLATE "C"
                    ON CONFLICT (key) DO UPDATE SET findings = fleet_keys.findings + EXCLUDED.findings, images = fleet_keys.images + EXCLUDED.images),
                packages AS (
                    INSERT INTO image_packages (key, names) SELECT \(ReportListing.packagesKey(name: name, manifestDigest: manifestDigest)),
                        \(listing.packages.joined(separator: "\n")) WHERE \(given != nil)
                    ON CONFLICT (key) DO UPDATE SET names = EXCLUDED.names WHERE image_packages.names <> EXCLUDED.names),
                prefixes AS (
                    INSERT INTO fleet_prefixes (key, parent, layer, depth, size)
                    SELECT k, NULLIF(p, ''), l, d, z FROM unnest(\(listing.prefixes.map(\.key))::TEXT[], \(listing.prefixes.map { $0.parent ?? "" })::TEXT[],
                        \(listing.prefixes.map(\.layer))::TEXT[], \(listing.prefixes.map { Int64($0.depth) })::BIGINT[], \(listing.prefixes.map(\.size))::BIGINT[])
                        AS f(k, p, l, d, z)
                    ON CONFLICT (key) DO NOTHING),
                layer_input AS (
                    SELECT l, f, p FROM unnest(\(layers)::TEXT[], \(layers.map { listing.layerFindings[$0, default: []].joined(separator: "\n") })::TEXT[],
                        \(layers.map { listing.layerPackages[$0, default: []].joined(separator: "\n") })::TEXT[]) AS f(l, f, p)),
                layer_findings AS (
                    INSERT INTO fleet_layer_findings (layer, findings)
                    SELECT l, f FROM layer_input ORDER BY l
                    ON CONFLICT (layer) DO UPDATE SET findings = \(unescaped: Self.mergedLayerFindings)
                    -- The same keys as stored (every image of a base, as a rule) merge to the same:
                    -- the merge is left to the rows that differ (CASE keeps that order).
                    WHERE \(image.fullyChecked) AND CASE WHEN fleet_layer_findings.findings = EXCLUDED.findings THEN false
                        ELSE fleet_layer_findings.findings <> \(unescaped: Self.mergedLayerFindings) END),
                totals AS (
                    INSERT INTO fleet_totals (shard, images, critical, high, medium, low, unknown, layers, bytes, exploited_images)
                    SELECT \(Int32(change.shard)), s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9] FROM (SELECT \(sums)::BIGINT[] AS s) AS f
                    WHERE \(!change.isEmpty)
                    ON CONFLICT (shard) DO UPDATE SET images = fleet_totals.images + EXCLUDED.images, critical = fleet_totals.critical + EXCLUDED.critical,
                        high = fleet_totals.high + EXCLUDED.high, medium = fleet_totals.medium + EXCLUDED.medium, low = fleet_totals.low + EXCLUDED.low,
                        unknown = fleet_totals.unknown + EXCLUDED.unknown, layers = fleet_totals.layers + EXCLUDED.layers,
                        bytes = fleet_totals.bytes + EXCLUDED.bytes, exploited_images = fleet_totals.exploited_images + EXCLUDED.exploited_images),
                days AS (
                    INSERT INTO fleet_days (day, shard, images, critical, high, medium, low, unknown)
                    SELECT \(TrendBuilder.day(of: Date())), \(Int32(change.shard)), s[1], s[2], s[3], s[4], s[5], s[6] FROM (SELECT \(sums)::BIGINT[] AS s) AS f
                    WHERE \(change.movesTrend)
                    ON CONFLICT (day, shard) DO UPDATE SET images = fleet_days.images + EXCLUDED.images, critical = fleet_days.critical + EXCLUDED.critical,
                        high = fleet_days.high + EXCLUDED.high, medium = fleet_days.medium + EXCLUDED.medium, low = fleet_days.low + EXCLUDED.low,
                        unknown = fleet_days.unknown + EXCLUDED.unknown),
                gaps AS (
                    INSERT INTO fleet_gaps (gap, images)
                    SELECT g, n FROM unnest(\(gaps)::TEXT[], \(gaps.map { Int64(change.gaps[$0] ?? 0) })::BIGINT[]) AS f(g, n) ORDER BY g
                    ON CONFLICT (gap) DO UPDATE SET images = fleet_gaps.images + EXCLUDED.images),
                chains AS (
                    INSERT INTO fleet_chains (chain, images, unchecked, lowest_finding_depth)
                    SELECT c, n, u, NULLIF(w, -1) FROM unnest(\(chains.map(\.chain))::TEXT[], \(chains.map { Int64($0.images) })::BIGINT[],
                        \(chains.map { Int64($0.unchecked) })::BIGINT[], \(chains.map { Int64($0.lowestFindingDepth) })::BIGINT[]) AS f(c, n, u, w) ORDER BY c
                    ON CONFLICT (chain) DO UPDATE SET images = fleet_chains.images + EXCLUDED.images, unchecked = fleet_chains.unchecked + EXCLUDED.unchecked,
                        lowest_finding_depth = coalesce(EXCLUDED.lowest_finding_depth, fleet_chains.lowest_finding_depth)
                    WHERE EXCLUDED.images <> 0 OR EXCLUDED.unchecked <> 0
                        OR fleet_chains.lowest_finding_depth IS DISTINCT FROM coalesce(EXCLUDED.lowest_finding_depth, fleet_chains.lowest_finding_depth)),
                now_carried AS (
                    SELECT * FROM unnest(\(vulnerabilities.map(\.id))::TEXT[], \(vulnerabilities.map(\.severity))::TEXT[],
                        \(vulnerabilities.map { Int64($0.rank) })::BIGINT[], \(vulnerabilities.map { $0.packages.joined(separator: "\n") })::TEXT[],
                        \(vulnerabilities.map { $0.kevDateAdded ?? "" })::TEXT[], \(vulnerabilities.map(\.knownRansomware))::BOOLEAN[]) AS f(i, s, r, p, k, w)),
                moved AS (
                    SELECT i, s, r, CASE WHEN \(counted) AND i IN (SELECT id FROM gone) THEN 0 ELSE 1 END AS n, p, k, w FROM now_carried
                    UNION ALL
                    SELECT DISTINCT id, '', 0, -1, '', '', false FROM gone WHERE \(counted) AND id NOT IN (SELECT i FROM now_carried))
            INSERT INTO fleet_vulnerabilities (id, severity, rank, images, packages, kev_added, ransomware)
            SELECT i, s, r, n, CASE WHEN p = '' THEN '{}'::TEXT[] ELSE string_to_array(p, E'\n') END, NULLIF(k, ''), w FROM moved ORDER BY i COLLATE "C"
            ON CONFLICT (id) DO UPDATE SET images = fleet_vulnerabilities.images + EXCLUDED.images,
                severity = CASE WHEN EXCLUDED.images >= 0 THEN EXCLUDED.severity ELSE fleet_vulnerabilities.severity END,
                rank = CASE WHEN EXCLUDED.images >= 0 THEN EXCLUDED.rank ELSE fleet_vulnerabilities.rank END,
                kev_added = GREATEST(fleet_vulnerabilities.kev_added, EXCLUDED.kev_added),
                ransomware = fleet_vulnerabilities.ransomware OR EXCLUDED.ransomware,
                packages = CASE WHEN fleet_vulnerabilities.images + EXCLUDED.images <= 0 THEN '{}'::TEXT[]
                    WHEN EXCLUDED.packages <@ fleet_vulnerabilities.packages THEN fleet_vulnerabilities.packages ELSE
                    ARRAY(SELECT p FROM (SELECT DISTINCT p COLLATE "C" AS p FROM unnest(fleet_vulnerabilities.packages || EXCLUDED.packages) AS u(p)) d
                    ORDER BY p LIMIT 3) END
            WHERE EXCLUDED.images <> 0 OR fleet_vulnerabilities.severity <> EXCLUDED.severity
                OR fleet_vulnerabilities.kev_added IS DISTINCT FROM EXCLUDED.kev_added OR fleet_vulnerabilities.ransomware <> EXCLUDED.ransomware
                OR NOT (EXCLUDED.packages <@ fleet_vulnerabilities.packages)
            """, on: connection)
    }

    /// An id or alias as the fleet's findings spell it: as given when some finding has it so,
    /// else the spelling that differs only in case (`cve-2024-1` is `CVE-2024-1`).
    func spelling(of id: String) async throws -> String {
        var exact = false
        try await run("SELECT 1 FROM fleet_keys WHERE key = \(id) AND images > 0") { _ in exact = true }
        if exact { return id }
        var spellings: [String] = []
        try await run("SELECT key FROM fleet_keys WHERE lower(key) = \(id.lowercased()) AND images > 0 ORDER BY key") { spellings.append(try $0.decode(String.self)) }
        return spellings.first ?? id
    }

    public func findings(_ filter: FindingsFilter, after: (image: String, ordinal: Int)?, limit: Int) async throws -> FindingsPage {
        var spelled = filter
        if let id = filter.id { spelled.id = try await spelling(of: id) }
        let filter = spelled
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
        if let id = filter.id, filter.severities == nil, filter.fixable == nil {
            // An id alone: its running counts (reading its keys grew with the images carrying it).
            try await run("SELECT findings, images FROM fleet_keys WHERE key = \(id)") { row in
                let (findings, names) = try row.decode((Int64, Int64).self)
                (count, images) = (Int(findings), Int(names))
            }
        } else {
            try await run(
                PostgresQuery(
                    unsafeSQL: "SELECT COALESCE(SUM(n), 0)::BIGINT, COUNT(*)::BIGINT FROM (SELECT \(lead).name, COUNT(*) AS n FROM \(counted) "
                        + "WHERE \(filtered) GROUP BY \(lead).name) AS per_image", binds: binds)
            ) { row in
                let (findings, names) = try row.decode((Int64, Int64).self)
                (count, images) = (Int(findings), Int(names))
            }
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
        try await run("SELECT name, document FROM reports WHERE NOT counted ORDER BY name COLLATE \"C\" LIMIT \(Int64(limit))") { row in
            let (name, document) = try row.decode((String, Data).self)
            reports.append((name, Array(document)))
        }
        return reports
    }

    public func listReport(name: String, document: [UInt8], listing: ReportListing) async throws {
        try await transaction { connection in
            var found: (digest: String?, old: ImageRow?)?
            try await holdLineageShared(on: connection)
            try await run(
                """
                UPDATE reports SET findings_listed = true WHERE name = \(name) AND NOT counted AND document = \(Data(document))
                RETURNING counted, \(unescaped: Self.imageColumns)
                """, on: connection
            ) { row in
                let old = try Self.imageRow(row, from: 1)
                found = (old.manifestDigest, try Self.firstIsTrue(row) ? old : nil)
            }
            guard let found else { return }
            try await replaceListing(of: name, manifestDigest: found.digest, with: listing, old: found.old, on: connection)
        }
    }

    public func fleetTrend() async throws -> [TrendPoint] {
        // One snapshot: the days are counted back from the totals they end at.
        try await transaction { connection in
            try await run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", on: connection)
            var rows: [FleetDay] = []
            let sums = "COALESCE(SUM(images), 0)::BIGINT, COALESCE(SUM(critical), 0)::BIGINT, COALESCE(SUM(high), 0)::BIGINT, "
                + "COALESCE(SUM(medium), 0)::BIGINT, COALESCE(SUM(low), 0)::BIGINT, COALESCE(SUM(unknown), 0)::BIGINT"
            for query: PostgresQuery in [
                "SELECT '', \(unescaped: sums) FROM fleet_totals", "SELECT day, \(unescaped: sums) FROM fleet_days GROUP BY day ORDER BY day",
            ] {
                try await run(query, on: connection) { row in
                    let (day, images, critical, high, medium, low, unknown) = try row.decode((String, Int64, Int64, Int64, Int64, Int64, Int64).self)
                    rows.append(FleetDay(day: day, images: Int(images), bySeverity: [critical, high, medium, low, unknown].map(Int.init)))
                }
            }
            return FleetDay.trend(Array(rows.dropFirst()), now: rows[0])
        }
    }

    public func fleetView(top: Int) async throws -> FleetView {
        // One snapshot: the sums, the lists and the lineage agree with each other while reports land.
        try await transaction { connection in
            try await run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", on: connection)
            var view = FleetView()
            try await run(
                """
                SELECT COALESCE(SUM(images), 0)::BIGINT, COALESCE(SUM(critical), 0)::BIGINT, COALESCE(SUM(high), 0)::BIGINT, COALESCE(SUM(medium), 0)::BIGINT,
                    COALESCE(SUM(low), 0)::BIGINT, COALESCE(SUM(unknown), 0)::BIGINT, COALESCE(SUM(layers), 0)::BIGINT, COALESCE(SUM(bytes), 0)::BIGINT,
                    COALESCE(SUM(exploited_images), 0)::BIGINT
                FROM fleet_totals
                """, on: connection
            ) { row in
                let (images, critical, high, medium, low, unknown, layers, bytes, exploited) = try row.decode(
                    (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
                view.images = Int(images)
                for (severity, count) in zip(ImageRow.severities, [critical, high, medium, low, unknown]) { view.bySeverity[severity] = Int(count) }
                (view.layerUses, view.bytesReferenced, view.imagesWithExploited) = (Int(layers), bytes, Int(exploited))
            }
            // By the index in this order: the worst without reading the rest.
            try await run(
                """
                SELECT \(unescaped: Self.imageColumns) FROM reports
                ORDER BY critical DESC, high DESC, medium DESC, low DESC, unknown DESC, name COLLATE "C" LIMIT \(Int64(top))
                """, on: connection
            ) { view.mostAtRisk.append(try Self.imageRow($0)) }
            func vulnerability(_ row: PostgresRow) throws -> FleetVulnerability {
                let (id, severity, images, packages, kev, ransomware) = try row.decode((String, String, Int64, [String], String?, Bool).self)
                return FleetVulnerability(id: id, severity: severity, images: Int(images), packages: packages, kevDateAdded: kev, knownRansomware: ransomware)
            }
            let vulnerabilityColumns = "id, severity, images, packages, kev_added, ransomware"
            try await run(
                """
                SELECT \(unescaped: vulnerabilityColumns) FROM fleet_vulnerabilities WHERE images > 0 ORDER BY images DESC, rank DESC, id LIMIT \(Int64(top))
                """, on: connection
            ) { view.widespread.append(try vulnerability($0)) }
            var exploited: [FleetVulnerability] = []
            try await run("SELECT \(unescaped: vulnerabilityColumns) FROM fleet_vulnerabilities WHERE images > 0 AND kev_added IS NOT NULL", on: connection) {
                exploited.append(try vulnerability($0))
            }
            for entry in exploited {
                var names: [String] = []
                // The keys' index is in name order: the first names without reading the rest.
                try await run(
                    """
                    SELECT DISTINCT k.name FROM report_finding_keys k JOIN report_findings f ON f.name = k.name AND f.ordinal = k.ordinal
                    WHERE k.key = \(entry.id) AND f.id = \(entry.id) ORDER BY k.name LIMIT \(Int64(top))
                    """, on: connection
                ) {
                    names.append(try $0.decode(String.self))
                }
                view.exploited.append((entry, names))
            }
            try await run("SELECT gap, images FROM fleet_gaps WHERE images > 0", on: connection) { row in
                let (gap, images) = try row.decode((String, Int64).self)
                view.missing[gap] = Int(images)
            }
            try await run("SELECT key, parent, layer, depth, size FROM fleet_prefixes", on: connection) { row in
                let (key, parent, layer, depth, size) = try row.decode((String, String?, String, Int32, Int64).self)
                view.prefixes.append(LayerPrefix(key: key, parent: parent, layer: layer, depth: Int(depth), size: size))
            }
            // The first names of each chain from the index on (chain, name), and what the first
            // one is missing (its release's end of support among it).
            try await run(
                """
                SELECT c.chain, c.images, c.unchecked > 0,
                    ARRAY(SELECT r.name COLLATE "C" FROM reports r WHERE r.chain = c.chain ORDER BY r.name COLLATE "C" LIMIT 3), c.lowest_finding_depth,
                    (SELECT r.missing FROM reports r WHERE r.chain = c.chain ORDER BY r.name COLLATE "C" LIMIT 1)
                FROM fleet_chains c WHERE c.images > 0
                """, on: connection
            ) { row in
                let (chain, images, unchecked, names, lowest, missing) = try row.decode((String, Int64, Bool, [String], Int32?, String?).self)
                view.chains[chain] = FleetChain(
                    images: Int(images), names: names, unchecked: unchecked, lowestFindingDepth: lowest.map(Int.init),
                    lifecycle: FleetChain.lifecycle(in: (missing ?? "").split(separator: "\n").map(String.init)))
            }
            try await run("SELECT layer, findings FROM fleet_layer_findings", on: connection) { row in
                let (layer, findings) = try row.decode((String, String).self)
                view.layerFindings[layer] = findings.isEmpty ? [] : findings.split(separator: "\n").map(String.init)
            }
            return view
        }
    }

    public func images(_ filter: ImagesFilter, after: String?, limit: Int) async throws -> [ImageRow] {
        var binds = PostgresBindings()
        var conditions: [String] = []
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let after { conditions.append("name COLLATE \"C\" > \(bind(after))") }
        if let repository = filter.repository { conditions.append("repository = \(bind(repository))") }
        if let registry = filter.registry {
            // Without a port, the host at any port too (`ImagesFilter.registry(_:isWithin:)`).
            conditions.append(
                registry.contains(":")
                    ? "starts_with(name, \(bind(registry + "/")))"
                    : "(starts_with(name, \(bind(registry + "/"))) OR (starts_with(name, \(bind(registry + ":"))) "
                        + "AND substr(name, \(bind(Int32(registry.unicodeScalars.count + 2))), 1) COLLATE \"C\" BETWEEN '0' AND '9'))")
        }
        if let severities = filter.severities {
            let columns = ImageRow.severities.filter(severities.contains).map { "\($0.lowercased()) > 0" }
            conditions.append("(" + (columns.isEmpty ? "false" : columns.joined(separator: " OR ")) + ")")
        }
        if let query = filter.query {
            let text = bind(query)
            conditions.append(
                "(strpos(lower(name), \(text)) > 0 OR name IN (SELECT name FROM report_finding_keys WHERE key IN "
                    + "(SELECT key FROM fleet_keys WHERE lower(key) = \(text) AND images > 0)) "
                    + "OR COALESCE(manifest_digest, 'report:' || name) IN (SELECT key FROM image_packages WHERE strpos(names, \(text)) > 0))")
        }
        let sql = "SELECT \(Self.imageColumns), \(Self.matchedAgainst) FROM reports WHERE " + (conditions.isEmpty ? "true" : conditions.joined(separator: " AND "))
            + " ORDER BY name COLLATE \"C\" LIMIT \(bind(Int64(limit)))"
        var rows: [ImageRow] = []
        try await run(PostgresQuery(unsafeSQL: sql, binds: binds)) { row in
            var image = try Self.imageRow(row)
            image.matchedAgainst = try row.makeRandomAccess()[20].decode(String?.self, context: .default)
            rows.append(image)
        }
        return rows
    }

    /// A report row's image's newest scan's advisory version (by its head).
    static let matchedAgainst = "(SELECT s.advisory_version FROM heads h JOIN scans s ON s.id = h.scan_id WHERE h.name = reports.name)"

    static let imageColumns = "name, manifest_digest, os, critical, high, medium, low, unknown, findings, fixable, new_findings, resolved, exploited, layers, "
        + "bytes, chain, fully_checked, missing, repository, tag"

    /// An image's row, from `imageColumns` (starting at column `first`).
    static func imageRow(_ row: PostgresRow, from first: Int = 0) throws -> ImageRow {
        let cells = row.makeRandomAccess()
        func cell<Value: PostgresDecodable>(_ index: Int, as type: Value.Type = Value.self) throws -> Value {
            try cells[first + index].decode(Value.self, context: .default)
        }
        var bySeverity: [String: Int] = [:]
        for (index, severity) in ImageRow.severities.enumerated() {
            let count = try cell(3 + index, as: Int64.self)
            if count > 0 { bySeverity[severity] = Int(count) }
        }
        let missing = try cell(17, as: String.self)
        return ImageRow(
            name: try cell(0), manifestDigest: try cell(1), os: try cell(2), bySeverity: bySeverity, findings: Int(try cell(8, as: Int64.self)),
            fixable: Int(try cell(9, as: Int64.self)), new: Int(try cell(10, as: Int64.self)), resolved: Int(try cell(11, as: Int64.self)),
            exploited: Int(try cell(12, as: Int64.self)), layers: Int(try cell(13, as: Int64.self)), bytes: try cell(14), chain: try cell(15),
            fullyChecked: try cell(16), missing: missing.isEmpty ? [] : missing.split(separator: "\n").map(String.init), repository: try cell(18),
            tag: try cell(19))
    }

    /// Whether a row's first column is true.
    static func firstIsTrue(_ row: PostgresRow) throws -> Bool { try row.makeRandomAccess()[0].decode(Bool.self, context: .default) }

    public func report(name: String) async throws -> [UInt8]? {
        var document: [UInt8]?
        try await run("SELECT document FROM reports WHERE name = \(name)") { document = Array(try $0.decode(Data.self)) }
        return document
    }

    public func reportPlace(name: String) async throws -> (repository: String, tag: String?)? {
        var place: (repository: String, tag: String?)?
        try await run("SELECT repository, tag FROM reports WHERE name = \(name)") { place = try $0.decode((String, String?).self) }
        return place
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

    public func reportsBehindScans(limit: Int) async throws -> [(name: String, manifestDigest: Digest, scannedAt: Date)] {
        var found: [(name: String, manifestDigest: Digest, scannedAt: Date)] = []
        try await run(
            """
            SELECT r.name, i.manifest_digest, s.scanned_at FROM reports r JOIN heads h ON h.name = r.name JOIN scans s ON s.id = h.scan_id
            JOIN images i ON i.image_key = s.image_key
            WHERE r.manifest_digest IS NOT NULL AND i.manifest_digest IS NOT NULL AND i.manifest_digest <> r.manifest_digest
                AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image = r.name AND j.state IN ('queued', 'running'))
            ORDER BY r.name LIMIT \(Int64(limit))
            """
        ) { row in
            let (name, digest, scannedAt) = try row.decode((String, String, Int64).self)
            found.append((name, try Digest(parsing: digest), StoreTime.date(scannedAt)))
        }
        return found
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

    public func dueNotifications(limit: Int, lease: Duration, urls: [String], now: Date) async throws -> [OutgoingNotification] {
        let at = StoreTime.milliseconds(now)
        var due: [OutgoingNotification] = []
        try await run(
            """
            UPDATE notifications SET next_attempt = \(at + StoreTime.milliseconds(lease))
            WHERE id IN (SELECT id FROM notifications WHERE delivered_at IS NULL AND next_attempt <= \(at) AND url = ANY(\(urls))
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

    public func waitingNotifications() async throws -> Int {
        var count = 0
        try await run("SELECT COUNT(*)::BIGINT FROM notifications WHERE delivered_at IS NULL") { count = Int(try $0.decode(Int64.self)) }
        return count
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

extension PostgresStore {
    public func prune(before: Date, eventsBefore: Date) async throws -> PrunedRows {
        // Events keep their time in seconds, as the registry gives it.
        let (cutoff, eventsCutoff) = (StoreTime.milliseconds(before), Int64(eventsBefore.timeIntervalSince1970))
        let batch = Int64(Self.pruneBatch)
        // As SQLite's (`SQLiteStore.pruning`): a name keeps its newest job, and its first scan,
        // its two newest and the one its report names. In batches, each statement its own
        // transaction, so no lock is held across a long prune.
        let statements: [PostgresQuery] = [
            """
            WITH gone AS (DELETE FROM jobs WHERE id IN (SELECT j.id FROM jobs j WHERE j.state IN ('done', 'dead') AND j.updated_at < \(cutoff)
                AND (j.image = '' OR EXISTS (SELECT 1 FROM jobs n WHERE n.repository = j.repository AND n.reference = j.reference
                                               AND n.image = j.image AND n.id > j.id)
                     OR (j.state = 'done' AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.name = j.image)
                         AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.name = j.image)))
                LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            """
            WITH gone AS (DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE delivered_at IS NOT NULL
                AND delivered_at < \(cutoff) LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            """
            WITH gone AS (DELETE FROM registry_events WHERE id IN (SELECT id FROM registry_events WHERE at < \(eventsCutoff) LIMIT \(batch))
                RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            """
            WITH gone AS (DELETE FROM scans WHERE id IN (SELECT s.id FROM scans s WHERE s.scanned_at < \(cutoff)
                AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.scan_id = s.id)
                AND EXISTS (SELECT 1 FROM scans o WHERE o.name = s.name AND o.id < s.id)
                AND (SELECT COUNT(*) FROM (SELECT 1 FROM scans n WHERE n.name = s.name AND n.id > s.id LIMIT 2) AS newer) = 2
                LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            // A name out of the fleet (deleted from its registry) keeps no scan.
            """
            WITH gone AS (DELETE FROM scans WHERE id IN (SELECT s.id FROM scans s WHERE s.scanned_at < \(cutoff)
                AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.name = s.name) AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.scan_id = s.id)
                LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            // Images keep their first sight in seconds. One whose scan is being written (locked by
            // the scan's key share or the image's upsert) is skipped, left for the next prune.
            """
            WITH gone AS (DELETE FROM images WHERE image_key IN (SELECT i.image_key FROM images i WHERE i.first_seen < \(cutoff / 1000)
                AND NOT EXISTS (SELECT 1 FROM scans s WHERE s.image_key = i.image_key) LIMIT \(batch) FOR UPDATE SKIP LOCKED) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            // The matches of the inventories about to go, then those: a match stored before its
            // inventory (the fleet path writes matches first) has none yet, and is kept.
            """
            WITH gone AS (DELETE FROM inventory_matches WHERE inventory_key IN (SELECT v.inventory_key FROM inventories v
                WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.inventory_key = v.inventory_key)
                    AND EXISTS (SELECT 1 FROM inventory_matches m WHERE m.inventory_key = v.inventory_key) LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
            """
            WITH gone AS (DELETE FROM inventories WHERE inventory_key IN (SELECT v.inventory_key FROM inventories v
                WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.inventory_key = v.inventory_key) LIMIT \(batch)) RETURNING 1)
            SELECT COUNT(*)::BIGINT FROM gone
            """,
        ]
        var deleted: [Int] = []
        for statement in statements {
            var total = 0
            while true {
                var batchDeleted = 0
                do {
                    try await run(statement) { batchDeleted = Int(try $0.decode(Int64.self)) }
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23503" {
                    // An image a scan began to name after the batch was chosen (a foreign key
                    // violation): nothing of the batch went; the next prune takes the rest.
                    break
                }
                total += batchDeleted
                if batchDeleted < Self.pruneBatch { break }
            }
            deleted.append(total)
        }
        return PrunedRows(
            jobs: deleted[0], notifications: deleted[1], events: deleted[2], scans: deleted[3] + deleted[4], images: deleted[5],
            inventories: deleted[7], matches: deleted[6], packageLists: try await pruneOrphanPackageLists(), lineage: try await pruneLineage())
    }

    /// The lock every transaction that lists a report holds shared, taken before any row lock,
    /// and `pruneLineage` holds alone: a prefix found unused is not one a listing being written
    /// is about to use (a prefix's upsert does nothing to a row that is there, so it takes no row
    /// lock the prune would wait for). Taken first, it cannot close a cycle of waits: a listing
    /// waiting for it holds no row, and the prune waits only on rows listings lock.
    static let lineageLockSpace: Int32 = 0x6c69_6e65  // "line"

    func holdLineageShared(on connection: PostgresConnection) async throws {
        try await run("SELECT pg_advisory_xact_lock_shared(\(Self.lineageLockSpace), 0)", on: connection)
    }

    /// Deletes, in batches, the layer prefixes no chain of a stored image goes through, the
    /// chains no image has, and the findings of layers no such prefix has (the fleet summary
    /// reads every row of these: a tag rebuilt daily left a prefix a day).
    func pruneLineage() async throws -> Int {
        let live = """
            WITH RECURSIVE live AS (
                SELECT chain AS key FROM fleet_chains WHERE images > 0
                UNION SELECT p.parent FROM fleet_prefixes p JOIN live l ON p.key = l.key WHERE p.parent IS NOT NULL)
            """
        let batch = Int64(Self.pruneBatch)
        let unusedPrefixes = "SELECT p.key FROM fleet_prefixes p WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.key = p.key)"
        let emptyChains = "SELECT chain FROM fleet_chains WHERE images <= 0 AND unchecked <= 0"
        let unusedLayers = "SELECT f.layer FROM fleet_layer_findings f WHERE NOT EXISTS (SELECT 1 FROM fleet_prefixes p WHERE p.layer = f.layer)"
        // (Whether there is anything to delete, asked without the lock, which stops every
        // report's write while it is held; the deletion itself.)
        let statements: [(probe: PostgresQuery, delete: PostgresQuery)] = [
            (
                "\(unescaped: live) SELECT COUNT(*)::BIGINT FROM (\(unescaped: unusedPrefixes) LIMIT 1) AS found",
                """
                \(unescaped: live), gone AS (DELETE FROM fleet_prefixes WHERE key IN (\(unescaped: unusedPrefixes) LIMIT \(batch)) RETURNING 1)
                SELECT COUNT(*)::BIGINT FROM gone
                """
            ),
            (
                "SELECT COUNT(*)::BIGINT FROM (\(unescaped: emptyChains) LIMIT 1) AS found",
                """
                WITH gone AS (DELETE FROM fleet_chains WHERE chain IN (\(unescaped: emptyChains) LIMIT \(batch)) AND images <= 0 AND unchecked <= 0
                    RETURNING 1)
                SELECT COUNT(*)::BIGINT FROM gone
                """
            ),
            (
                "SELECT COUNT(*)::BIGINT FROM (\(unescaped: unusedLayers) LIMIT 1) AS found",
                """
                WITH gone AS (DELETE FROM fleet_layer_findings WHERE layer IN (\(unescaped: unusedLayers) LIMIT \(batch)) RETURNING 1)
                SELECT COUNT(*)::BIGINT FROM gone
                """
            ),
        ]
        var total = 0
        for (probe, statement) in statements {
            var found = 0
            try await run(probe) { found = Int(try $0.decode(Int64.self)) }
            guard found > 0 else { continue }
            while true {
                // The lock first, the statement after it: its snapshot then holds every listing
                // that took the lock before.
                let deleted = try await transaction { connection in
                    try await run("SELECT pg_advisory_xact_lock(\(Self.lineageLockSpace), 0)", on: connection)
                    var deleted = 0
                    try await run(statement, on: connection) { deleted = Int(try $0.decode(Int64.self)) }
                    return deleted
                }
                total += deleted
                if deleted < Self.pruneBatch { break }
            }
        }
        return total
    }

    /// Deletes the package names of manifests no report is of (a tag rebuilt daily leaves one a
    /// day), in batches. The rows are locked first and checked again by a second statement, whose
    /// snapshot is taken once they are locked: a report of the manifest stored meanwhile (its
    /// listing's upsert locks the row, even when the names are the same) has either committed by
    /// then, and keeps its row, or waits for the delete and writes the row anew.
    func pruneOrphanPackageLists() async throws -> Int {
        let orphan = """
            NOT EXISTS (SELECT 1 FROM reports r WHERE r.manifest_digest = p.key)
                AND NOT (p.key LIKE 'report:%' AND EXISTS (SELECT 1 FROM reports r WHERE r.name = substr(p.key, 8) AND r.manifest_digest IS NULL))
            """
        var total = 0
        while true {
            let deleted = try await transaction { connection in
                var keys: [String] = []
                try await run(
                    "SELECT p.key FROM image_packages p WHERE \(unescaped: orphan) LIMIT \(Int64(Self.pruneBatch)) FOR UPDATE SKIP LOCKED", on: connection
                ) { keys.append(try $0.decode(String.self)) }
                guard !keys.isEmpty else { return (chosen: 0, deleted: 0) }
                var deleted = 0
                try await run(
                    """
                    WITH gone AS (DELETE FROM image_packages p WHERE p.key = ANY(\(keys)::TEXT[]) AND \(unescaped: orphan) RETURNING 1)
                    SELECT COUNT(*)::BIGINT FROM gone
                    """, on: connection
                ) { deleted = Int(try $0.decode(Int64.self)) }
                return (chosen: keys.count, deleted: deleted)
            }
            total += deleted.deleted
            if deleted.chosen < Self.pruneBatch { return total }
        }
    }

    static let pruneBatch = 5000
}
