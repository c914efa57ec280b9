public import FathomCore
import FathomSQLite
public import Foundation
public import FathomStore

// The service's queue and reports in the embedded store. One writer serialises every claim,
// so a claim is a plain read-then-update inside one transaction.
extension SQLiteStore {
    static func milliseconds(_ date: Date) -> Int64 { StoreTime.milliseconds(date) }
    static func milliseconds(_ duration: Duration) -> Int64 { StoreTime.milliseconds(duration) }
    static func date(_ milliseconds: Int64) -> Date { StoreTime.date(milliseconds) }

    /// The job kinds this fathom runs, as SQL literals (constants): a claim takes no other, so a
    /// kind a newer fathom queued waits for a newer worker during a rolling upgrade instead of
    /// being taken, not understood, and retried until its attempts are spent.
    static let knownKinds = Job.Kind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")

    static let jobColumns = "id, kind, image, repository, reference, state, attempts, worker, last_error, created_at, updated_at, started_at, payload, job_key"

    static func job(_ row: SQLiteRow) -> Job? {
        guard let kind = row.text(1).flatMap(Job.Kind.init(rawValue:)), let state = row.text(5).flatMap(Job.State.init(rawValue:)) else {
            return nil
        }
        return Job(
            id: row.integer(0), kind: kind, image: row.text(2) ?? "", repository: row.text(3), reference: row.text(4), state: state,
            attempts: Int(row.integer(6)), worker: row.text(7), lastError: row.text(8), createdAt: date(row.integer(9)),
            updatedAt: date(row.integer(10)), startedAt: row.isNull(11) ? nil : date(row.integer(11)), payload: row.text(12), key: row.text(13))
    }

    public func enqueue(_ job: NewJob, now: Date) async throws -> (id: Int64, added: Bool) {
        let at = Self.milliseconds(now)
        defer { jobWakeups.wake() }
        return try await database.write { database in
            try database.transaction {
                var pending: Int64?
                try database.query("SELECT id FROM jobs WHERE job_key = ? AND state IN ('queued', 'running')", [.text(job.key)]) {
                    pending = $0.integer(0)
                }
                if let pending { return (pending, false) }
                try database.query(
                    """
                    INSERT INTO jobs (kind, job_key, image, repository, reference, state, not_before, created_at, updated_at, payload)
                    VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)
                    """,
                    [
                        .text(job.kind.rawValue), .text(job.key), .text(job.image), job.repository.map { .text($0) } ?? .null,
                        job.reference.map { .text($0) } ?? .null, .integer(at + Self.milliseconds(job.delay)), .integer(at), .integer(at),
                        job.payload.map { .text($0) } ?? .null,
                    ])
                return (database.lastInsertRowID, true)
            }
        }
    }

    public func claim(worker: String, lease: Duration, limit: Int, localSources: Bool, maxAttempts: Int, now: Date) async throws -> [Job] {
        let at = Self.milliseconds(now)
        let until = at + Self.milliseconds(lease)
        return try await database.write { database in
            try database.transaction {
                // A running job whose lease ran out lost its worker: it is runnable again while
                // it has attempts left (on its last, `expireLeases` ends it), within half a lease
                // at random: the jobs its worker held together are not all taken together again
                // (one of them may be what killed it).
                try database.query(
                    """
                    UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, updated_at = ?1,
                        last_error = ?3 || COALESCE(worker, '') || ?4, not_before = ?1 + abs(random() % (?5 + 1))
                    WHERE state = 'running' AND lease_until < ?1 AND attempts < ?2
                    """,
                    [
                        .integer(at), .integer(Int64(maxAttempts)), .text(Job.leaseRanOut.before), .text(Job.leaseRanOut.after),
                        .integer(Self.milliseconds(lease) / 2),
                    ])
                var ids: [Int64] = []
                try database.query(
                    """
                    SELECT id FROM jobs j WHERE state = 'queued' AND not_before <= ?1 AND kind IN (\(Self.knownKinds))
                    AND (?2 OR NOT (image LIKE 'oci:%' OR image LIKE 'oci-archive:%'))
                    AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.image = j.image AND j.image <> ''
                                    AND e.state IN ('queued', 'running') AND (e.state = 'running' OR (e.id < j.id AND e.not_before <= ?1)))
                    ORDER BY not_before, id LIMIT ?3
                    """, [.integer(at), .integer(localSources ? 1 : 0), .integer(Int64(limit))]
                ) { ids.append($0.integer(0) ?? 0) }
                var jobs: [Job] = []
                for id in ids.sorted() {
                    try database.query(
                        """
                        UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, lease_until = ?, updated_at = ?,
                            started_at = COALESCE(started_at, ?) WHERE id = ?
                        """, [.text(worker), .integer(until), .integer(at), .integer(at), .integer(id)])
                    try database.query("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", [.integer(id)]) { if let job = Self.job($0) { jobs.append(job) } }
                }
                return jobs
            }
        }
    }

    public func expireLeases(maxAttempts: Int, now: Date) async throws -> [Job] {
        let at = Self.milliseconds(now)
        let ended: [Job] = try await database.write { database in
            try database.transaction {
                let condition = "state = 'running' AND lease_until < ?1 AND attempts >= ?2"
                var ids: [Int64] = []
                try database.query("SELECT id FROM jobs WHERE \(condition)", [.integer(at), .integer(Int64(maxAttempts))]) {
                    ids.append($0.integer(0))
                }
                guard !ids.isEmpty else { return [] }
                try database.query(
                    """
                    UPDATE jobs SET state = 'dead', worker = NULL, lease_until = NULL, updated_at = ?1, last_error = ?3 || COALESCE(worker, '') || ?4,
                        payload = CASE WHEN instr(payload, '"' || ?5 || '"') > 0 THEN json_remove(payload, '$.' || ?5) ELSE payload END
                    WHERE \(condition)
                    """,
                    [
                        .integer(at), .integer(Int64(maxAttempts)), .text(Job.leaseRanOut.before), .text(Job.leaseRanOut.after),
                        .text(Job.secretPayloadField),
                    ])
                var jobs: [Job] = []
                for id in ids {
                    try database.query("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", [.integer(id)]) { if let job = Self.job($0) { jobs.append(job) } }
                }
                return jobs
            }
        }
        if !ended.isEmpty { jobWakeups.wake() }  // as fail: a dead job may hold the next of its name
        return ended
    }

    public func renew(_ ids: [Int64], worker: String, lease: Duration, now: Date) async throws -> Set<Int64> {
        let at = Self.milliseconds(now)
        return try await database.write { database in
            try database.transaction {
                var renewed: Set<Int64> = []
                for id in ids {
                    try database.query(
                        "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND worker = ? AND state = 'running'",
                        [.integer(at + Self.milliseconds(lease)), .integer(at), .integer(id), .text(worker)])
                    if database.changes == 1 { renewed.insert(id) }
                }
                return renewed
            }
        }
    }

    public func complete(_ id: Int64, worker: String, now: Date) async throws {
        // A job of the same image name may be waiting for this one (the jobs of a name run in
        // turn): the workers waiting for jobs, with places free, look again.
        defer { jobWakeups.wake() }
        try await database.write { database in
            try database.query(
                """
                UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = ?4,
                    payload = CASE WHEN instr(payload, '"' || ?1 || '"') = 0 THEN payload ELSE json_remove(payload, '$.' || ?1) END
                WHERE id = ?2 AND worker = ?3
                """,
                [.text(Job.secretPayloadField), .integer(id), .text(worker), .integer(Self.milliseconds(now))])
        }
    }

    public func jobSignal() -> Int { jobWakeups.wakes }

    public func waitForJobs(since signal: Int, upTo limit: Duration) async { await jobWakeups.wait(since: signal, upTo: limit) }

    public func release(_ id: Int64, worker: String, now: Date) async throws {
        let at = Self.milliseconds(now)
        defer { jobWakeups.wake() }
        try await database.write { database in
            try database.query(
                """
                UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), worker = NULL, lease_until = NULL, not_before = ?,
                updated_at = ? WHERE id = ? AND worker = ? AND state = 'running'
                """, [.integer(at), .integer(at), .integer(id), .text(worker)])
        }
    }

    @discardableResult
    public func fail(_ id: Int64, worker: String, error: String, retryAfter: Duration, maxAttempts: Int, now: Date) async throws -> Bool {
        let at = Self.milliseconds(now)
        defer { jobWakeups.wake() }  // as complete: a dead job may hold the next of its name
        return try await database.write { database in
            try database.query(
                """
                UPDATE jobs SET state = CASE WHEN attempts >= ?1 THEN 'dead' ELSE 'queued' END, not_before = ?2, lease_until = NULL,
                last_error = ?3, updated_at = ?4,
                payload = CASE WHEN attempts >= ?1 AND instr(payload, '"' || ?7 || '"') > 0 THEN json_remove(payload, '$.' || ?7) ELSE payload END
                WHERE id = ?5 AND worker = ?6
                """,
                [
                    .integer(Int64(maxAttempts)), .integer(at + Self.milliseconds(retryAfter)), .text(error), .integer(at), .integer(id),
                    .text(worker), .text(Job.secretPayloadField),
                ])
            guard database.changes == 1 else { return false }
            var dead = false
            try database.query("SELECT state FROM jobs WHERE id = ?", [.integer(id)]) { dead = $0.text(0) == Job.State.dead.rawValue }
            return dead
        }
    }

    public func jobs(state: Job.State?, limit: Int, before: Int64?) async throws -> [Job] {
        try await database.read { database in
            var jobs: [Job] = []
            try database.query(
                "SELECT \(Self.jobColumns) FROM jobs WHERE (? IS NULL OR state = ?) AND id < ? ORDER BY id DESC LIMIT ?",
                [
                    state.map { .text($0.rawValue) } ?? .null, state.map { .text($0.rawValue) } ?? .null, .integer(before ?? Int64.max),
                    .integer(Int64(limit)),
                ]
            ) { row in if let job = Self.job(row) { jobs.append(job) } }
            return jobs
        }
    }

    public func job(_ id: Int64) async throws -> Job? {
        try await database.read { database in
            var job: Job?
            try database.query("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", [.integer(id)]) { job = Self.job($0) }
            return job
        }
    }

    public func latestJobs(repository: String, reference: String, limit: Int) async throws -> [Job] {
        try await database.read { database in
            var jobs: [Job] = []
            try database.query(
                "SELECT \(Self.jobColumns) FROM jobs WHERE repository = ? AND reference = ? ORDER BY id DESC LIMIT ?",
                [.text(repository), .text(reference), .integer(Int64(limit))]
            ) { if let job = Self.job($0) { jobs.append(job) } }
            return jobs
        }
    }

    public func jobCounts() async throws -> [Job.State: Int] {
        try await database.read { database in
            var counts = Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0, 0) })
            try database.query("SELECT state, COUNT(*) FROM jobs GROUP BY state") { row in
                if let state = row.text(0).flatMap(Job.State.init(rawValue:)) { counts[state] = Int(row.integer(1)) }
            }
            return counts
        }
    }

    public func storeReport(
        _ document: [UInt8], name: String, repository: String, tag: String?, manifestDigest: Digest?, listing: ReportListing
    ) async throws {
        try await database.write { database in
            try database.transaction {
                var scan: Int64 = 0
                try database.query("SELECT scan_id FROM heads WHERE name = ?", [.text(name)]) { scan = $0.integer(0) }
                try database.query(
                    """
                    INSERT INTO reports (name, repository, tag, manifest_digest, scan_id, document, findings_listed)
                    VALUES (?, ?, ?, ?, ?, ?, 1)
                    ON CONFLICT (name) DO UPDATE SET repository = excluded.repository, tag = excluded.tag, manifest_digest = excluded.manifest_digest,
                        scan_id = excluded.scan_id, document = excluded.document, findings_listed = 1
                    """,
                    [
                        .text(name), .text(repository), tag.map { .text($0) } ?? .null, manifestDigest.map { .text($0.description) } ?? .null,
                        .integer(scan), .blob(document),
                    ])
                try Self.replaceListing(of: name, manifestDigest: manifestDigest?.description, with: listing, in: database)
            }
        }
    }

    public func removeImages(_ names: [String]) async throws -> [String] {
        try await database.write { database in
            try database.transaction {
                var removed: [String] = []
                for name in names {
                    var (reported, headed) = (false, false)
                    try database.query("SELECT 1 FROM reports WHERE name = ?", [.text(name)]) { _ in reported = true }
                    try database.query("SELECT 1 FROM heads WHERE name = ?", [.text(name)]) { _ in headed = true }
                    if reported {
                        try Self.replaceListing(of: name, manifestDigest: nil, with: nil, in: database)
                        try database.query("DELETE FROM reports WHERE name = ?", [.text(name)])
                    }
                    if headed { try database.query("DELETE FROM heads WHERE name = ?", [.text(name)]) }
                    var failed = false
                    try database.query("DELETE FROM jobs WHERE state = 'dead' AND kind = 'scan' AND image = ? RETURNING 1", [.text(name)]) { _ in failed = true }
                    if reported || headed || failed { removed.append(name) }
                }
                return removed
            }
        }
    }

    /// Replaces the listing of `name`: its image's sums on its report's row, its findings, the
    /// prefixes and layer findings it brings, and the images per vulnerability (moved by the ids
    /// it gains and loses; what the newest report says of an id it keeps). No listing takes the
    /// name's out of every count (its image is leaving the fleet).
    static func replaceListing(of name: String, manifestDigest: String?, with listing: ReportListing?, in database: SQLiteConnection) throws {
        var old: ImageRow?
        try database.query("SELECT \(imageColumns) FROM reports WHERE name = ? AND counted", [.text(name)]) { old = imageRow($0) }
        let change = FleetTotalsChange(from: old, to: listing)
        if let listing {
            let image = listing.image
            let counts = ImageRow.severities.map { SQLiteValue.integer(Int64(image.bySeverity[$0] ?? 0)) }
            try database.query(
                """
                UPDATE reports SET counted = 1, os = ?, critical = ?, high = ?, medium = ?, low = ?, unknown = ?, findings = ?, fixable = ?,
                    new_findings = ?, resolved = ?, exploited = ?, layers = ?, bytes = ?, chain = ?, fully_checked = ?, missing = ? WHERE name = ?
                """,
                [image.os.map { .text($0) } ?? .null] + counts + [
                    .integer(Int64(image.findings)), .integer(Int64(image.fixable)), .integer(Int64(image.new)), .integer(Int64(image.resolved)),
                    .integer(Int64(image.exploited)), .integer(Int64(image.layers)), .integer(image.bytes), image.chain.map { .text($0) } ?? .null,
                    .integer(image.fullyChecked ? 1 : 0), .text(image.missing.joined(separator: "\n")), .text(name),
                ])
            try database.query(
                """
                INSERT INTO image_packages (key, names) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET names = excluded.names WHERE image_packages.names <> excluded.names
                """, [.text(ReportListing.packagesKey(name: name, manifestDigest: manifestDigest)), .text(listing.packages.joined(separator: "\n"))])
        }
        if !change.isEmpty { try move(change, in: database) }
        for row in change.chainRows {
            try database.query(
                """
                INSERT INTO fleet_chains (chain, images, unchecked, lowest_finding_depth) VALUES (?, ?, ?, NULLIF(?, -1))
                ON CONFLICT (chain) DO UPDATE SET images = images + excluded.images, unchecked = unchecked + excluded.unchecked,
                    lowest_finding_depth = coalesce(excluded.lowest_finding_depth, lowest_finding_depth)
                WHERE excluded.images <> 0 OR excluded.unchecked <> 0 OR lowest_finding_depth IS NOT coalesce(excluded.lowest_finding_depth, lowest_finding_depth)
                """, [.text(row.chain), .integer(Int64(row.images)), .integer(Int64(row.unchecked)), .integer(Int64(row.lowestFindingDepth))])
        }
        // The old findings' rows are in the counts only if the row was counted (a report an
        // earlier fathom wrote has rows no count holds).
        var gone: Set<String> = []
        if old != nil {
            try database.query("SELECT DISTINCT id FROM report_findings WHERE name = ?", [.text(name)]) { gone.insert($0.text(0) ?? "") }
        }
        let findings = listing?.findings ?? []
        try database.query("DELETE FROM report_findings WHERE name = ?", [.text(name)])
        // Findings and images per id or alias, moved by what the name's findings gain and lose.
        var keyMoves: [String: (findings: Int, images: Int)] = [:]
        if old != nil {
            try database.query("SELECT key, COUNT(*) FROM report_finding_keys WHERE name = ? GROUP BY key", [.text(name)]) { row in
                keyMoves[row.text(0) ?? ""] = (-Int(row.integer(1)), -1)
            }
        }
        var newKeys: [String: Int] = [:]
        for finding in findings { for key in finding.keys { newKeys[key, default: 0] += 1 } }
        for (key, count) in newKeys {
            let before = keyMoves[key] ?? (0, 0)
            keyMoves[key] = (before.findings + count, before.images + 1)
        }
        for (key, moved) in keyMoves where moved.findings != 0 || moved.images != 0 {
            try database.query(
                """
                INSERT INTO fleet_keys (key, findings, images) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET findings = findings + excluded.findings, images = images + excluded.images
                """, [.text(key), .integer(Int64(moved.findings)), .integer(Int64(moved.images))])
        }
        try database.query("DELETE FROM report_finding_keys WHERE name = ?", [.text(name)])
        for (ordinal, finding) in findings.enumerated() {
            try database.query(
                """
                INSERT INTO report_findings (name, ordinal, manifest_digest, id, aliases, package, installed_version, fixed_version, severity, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(name), .integer(Int64(ordinal)), manifestDigest.map { .text($0) } ?? .null, .text(finding.id),
                    .text(ReportFinding.joined(finding.aliases)), .text(finding.package), .text(finding.installedVersion),
                    finding.fixedVersion.map { .text($0) } ?? .null, .text(finding.severity), .text(finding.status),
                ])
            for key in finding.keys {
                try database.query(
                    "INSERT INTO report_finding_keys (key, name, ordinal, severity, fixed) VALUES (?, ?, ?, ?, ?)",
                    [.text(key), .text(name), .integer(Int64(ordinal)), .text(finding.severity), .integer(finding.fixedVersion == nil ? 0 : 1)])
            }
        }
        guard let listing else {
            try moveVulnerabilities(gone, in: database)
            return
        }
        for prefix in listing.prefixes {
            try database.query(
                "INSERT INTO fleet_prefixes (key, parent, layer, depth, size) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                [.text(prefix.key), prefix.parent.map { .text($0) } ?? .null, .text(prefix.layer), .integer(Int64(prefix.depth)), .integer(prefix.size)])
        }
        for (layer, keys) in listing.layerFindings {
            var stored: [String]?
            try database.query("SELECT findings FROM fleet_layer_findings WHERE layer = ?", [.text(layer)]) { row in
                stored = (row.text(0) ?? "").split(separator: "\n").map(String.init)
            }
            let merged = stored.map { ReportListing.layerFindings(listed: keys, stored: $0, own: Set(listing.layerPackages[layer] ?? [])) } ?? keys
            try database.query(
                """
                INSERT INTO fleet_layer_findings (layer, findings) VALUES (?, ?)
                ON CONFLICT (layer) DO UPDATE SET findings = excluded.findings WHERE ? AND fleet_layer_findings.findings <> excluded.findings
                """, [.text(layer), .text(merged.joined(separator: "\n")), .integer(listing.image.fullyChecked ? 1 : 0)])
        }
        for vulnerability in listing.vulnerabilities {
            // A known KEV entry stays (the newest date), the packages gather (a few).
            var packages: [String] = []
            var kev = vulnerability.kevDateAdded
            var ransomware = vulnerability.knownRansomware
            try database.query("SELECT packages, kev_added, ransomware, images FROM fleet_vulnerabilities WHERE id = ?", [.text(vulnerability.id)]) {
                if $0.integer(3) > 0 { packages = ($0.text(0) ?? "").split(separator: "\n").map(String.init) }
                kev = [kev, $0.text(1)].compactMap { $0 }.max()
                ransomware = ransomware || $0.integer(2) != 0
            }
            let merged = FleetVulnerability(
                id: vulnerability.id, severity: vulnerability.severity, images: 0, packages: packages + vulnerability.packages,
                kevDateAdded: kev, knownRansomware: ransomware)
            try database.query(
                """
                INSERT INTO fleet_vulnerabilities (id, severity, rank, images, packages, kev_added, ransomware) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET images = images + excluded.images, severity = excluded.severity, rank = excluded.rank,
                    packages = excluded.packages, kev_added = excluded.kev_added, ransomware = excluded.ransomware
                """,
                [
                    .text(vulnerability.id), .text(vulnerability.severity), .integer(Int64(vulnerability.rank)),
                    .integer(gone.remove(vulnerability.id) == nil ? 1 : 0), .text(merged.packages.joined(separator: "\n")),
                    merged.kevDateAdded.map { .text($0) } ?? .null, .integer(merged.knownRansomware ? 1 : 0),
                ])
        }
        try moveVulnerabilities(gone, in: database)
    }

    /// One image fewer for each of the vulnerability ids a name's report no longer carries.
    static func moveVulnerabilities(_ gone: Set<String>, in database: SQLiteConnection) throws {
        for id in gone {
            try database.query(
                "UPDATE fleet_vulnerabilities SET images = images - 1, packages = CASE WHEN images <= 1 THEN '' ELSE packages END WHERE id = ?", [.text(id)])
        }
    }

    /// Moves the fleet's sums by one image's change: its shard of the totals and its gaps.
    static func move(_ change: FleetTotalsChange, in database: SQLiteConnection) throws {
        try database.query(
            """
            INSERT INTO fleet_totals (shard, images, critical, high, medium, low, unknown, layers, bytes, exploited_images)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (shard) DO UPDATE SET images = images + excluded.images, critical = critical + excluded.critical, high = high + excluded.high,
                medium = medium + excluded.medium, low = low + excluded.low, unknown = unknown + excluded.unknown, layers = layers + excluded.layers,
                bytes = bytes + excluded.bytes, exploited_images = exploited_images + excluded.exploited_images
            """,
            [.integer(Int64(change.shard)), .integer(Int64(change.images))] + change.bySeverity.map { .integer(Int64($0)) }
                + [.integer(Int64(change.layers)), .integer(change.bytes), .integer(Int64(change.exploitedImages))])
        if change.movesTrend {
            try database.query(
                """
                INSERT INTO fleet_days (day, shard, images, critical, high, medium, low, unknown) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (day, shard) DO UPDATE SET images = images + excluded.images, critical = critical + excluded.critical,
                    high = high + excluded.high, medium = medium + excluded.medium, low = low + excluded.low, unknown = unknown + excluded.unknown
                """,
                [.text(TrendBuilder.day(of: Date())), .integer(Int64(change.shard)), .integer(Int64(change.images))] + change.bySeverity.map { .integer(Int64($0)) })
        }
        for (gap, images) in change.gaps {
            try database.query(
                "INSERT INTO fleet_gaps (gap, images) VALUES (?, ?) ON CONFLICT (gap) DO UPDATE SET images = images + excluded.images",
                [.text(gap), .integer(Int64(images))])
        }
    }

    /// An id or alias as the fleet's findings spell it: as given when some finding has it so,
    /// else the spelling that differs only in case (`cve-2024-1` is `CVE-2024-1`).
    func spelling(of id: String) async throws -> String {
        try await database.read { database in
            var exact = false
            try database.query("SELECT 1 FROM fleet_keys WHERE key = ? AND images > 0", [.text(id)]) { _ in exact = true }
            if exact { return id }
            var spelling: String?
            try database.query("SELECT key FROM fleet_keys WHERE lower(key) = ? AND images > 0 ORDER BY key LIMIT 1", [.text(id.lowercased())]) {
                spelling = $0.text(0)
            }
            return spelling ?? id
        }
    }

    public func findings(_ filter: FindingsFilter, after: (image: String, ordinal: Int)?, limit: Int) async throws -> FindingsPage {
        var spelled = filter
        if let id = filter.id { spelled.id = try await spelling(of: id) }
        let filter = spelled
        var parameters: [SQLiteValue] = []
        var conditions: [String] = []
        let from: String
        let lead: String
        if let id = filter.id {
            from = "report_finding_keys k JOIN report_findings f ON f.name = k.name AND f.ordinal = k.ordinal"
            lead = "k"
            conditions.append("k.key = ?")
            parameters.append(.text(id))
        } else {
            from = "report_findings f"
            lead = "f"
        }
        // Severity and fixability are read where the listing leads: the keys carry them.
        if let severities = filter.severities {
            conditions.append("\(lead).severity IN (\(severities.map { _ in "?" }.joined(separator: ", ")))")
            parameters += severities.map { .text($0) }
        }
        if let fixable = filter.fixable {
            conditions.append(lead == "k" ? (fixable ? "k.fixed" : "NOT k.fixed") : (fixable ? "f.fixed_version IS NOT NULL" : "f.fixed_version IS NULL"))
        }
        let filtered = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        var sql = "SELECT f.name, f.manifest_digest, f.ordinal, f.id, f.aliases, f.package, f.installed_version, f.fixed_version, f.severity, f.status "
            + "FROM \(from) WHERE \(filtered)"
        var page = parameters
        if let after {
            sql += " AND (\(lead).name, \(lead).ordinal) > (?, ?)"
            page += [.text(after.image), .integer(Int64(after.ordinal))]
        }
        sql += " ORDER BY \(lead).name, \(lead).ordinal LIMIT ?"
        page.append(.integer(Int64(limit + 1)))
        // Counted per name in the index's order; an id's findings from its keys alone.
        let counted = lead == "k" ? "report_finding_keys k" : from
        let statement = sql
        let pageParameters = page
        let countParameters = parameters
        return try await database.read { database in
            var count = 0
            var images = 0
            if let id = filter.id, filter.severities == nil, filter.fixable == nil {
                // An id alone: its running counts.
                try database.query("SELECT findings, images FROM fleet_keys WHERE key = ?", [.text(id)]) { row in
                    (count, images) = (Int(row.integer(0)), Int(row.integer(1)))
                }
            } else {
                try database.query(
                    "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT \(lead).name, COUNT(*) AS n FROM \(counted) WHERE \(filtered) GROUP BY \(lead).name)",
                    countParameters
                ) { row in
                    (count, images) = (Int(row.integer(0)), Int(row.integer(1)))
                }
            }
            var listed: [ListedFinding] = []
            try database.query(statement, pageParameters) { row in
                listed.append(
                    ListedFinding(
                        image: row.text(0) ?? "", manifestDigest: row.text(1), ordinal: Int(row.integer(2)),
                        finding: ReportFinding(
                            id: row.text(3) ?? "", aliases: ReportFinding.split(row.text(4) ?? ""), package: row.text(5) ?? "",
                            installedVersion: row.text(6) ?? "", fixedVersion: row.text(7), severity: row.text(8) ?? "", status: row.text(9) ?? "")))
            }
            let more = listed.count > limit
            return FindingsPage(findings: Array(listed.prefix(limit)), more: more, count: count, images: images)
        }
    }

    public func unlistedReports(limit: Int) async throws -> [(name: String, document: [UInt8])] {
        try await database.read { database in
            var reports: [(name: String, document: [UInt8])] = []
            try database.query("SELECT name, document FROM reports WHERE NOT counted ORDER BY name LIMIT ?", [.integer(Int64(limit))]) {
                reports.append(($0.text(0) ?? "", $0.blob(1)))
            }
            return reports
        }
    }

    public func listReport(name: String, document: [UInt8], listing: ReportListing) async throws {
        try await database.write { database in
            try database.transaction {
                var digest: String??
                try database.query(
                    "SELECT manifest_digest FROM reports WHERE name = ? AND NOT counted AND document = ?", [.text(name), .blob(document)]
                ) { digest = .some($0.text(0)) }
                guard let digest else { return }
                try database.query("UPDATE reports SET findings_listed = 1 WHERE name = ?", [.text(name)])
                try Self.replaceListing(of: name, manifestDigest: digest, with: listing, in: database)
            }
        }
    }

    public func fleetView(top: Int) async throws -> FleetView {
        // One snapshot: the sums, the lists and the lineage agree with each other while reports land.
        try await database.read { connection in try connection.snapshot { try Self.fleetView(top: top, in: connection) } }
    }

    public func fleetTrend() async throws -> [TrendPoint] {
        // One snapshot: the days are counted back from the totals they end at.
        try await database.read { connection in
            try connection.snapshot {
                var rows: [FleetDay] = []
                let sums = "TOTAL(images), TOTAL(critical), TOTAL(high), TOTAL(medium), TOTAL(low), TOTAL(unknown)"
                for query in ["SELECT '', \(sums) FROM fleet_totals", "SELECT day, \(sums) FROM fleet_days GROUP BY day ORDER BY day"] {
                    try connection.query(query) { row in
                        rows.append(FleetDay(day: row.text(0) ?? "", images: Int(row.integer(1)), bySeverity: (2...6).map { Int(row.integer(Int32($0))) }))
                    }
                }
                return FleetDay.trend(Array(rows.dropFirst()), now: rows[0])
            }
        }
    }

    private static func fleetView(top: Int, in database: SQLiteConnection) throws -> FleetView {
        var view = FleetView()
        try database.query(
            """
            SELECT TOTAL(images), TOTAL(critical), TOTAL(high), TOTAL(medium), TOTAL(low), TOTAL(unknown), TOTAL(layers), TOTAL(bytes),
                TOTAL(exploited_images)
            FROM fleet_totals
            """
        ) { row in
            view.images = Int(row.integer(0))
            for (index, severity) in ImageRow.severities.enumerated() { view.bySeverity[severity] = Int(row.integer(Int32(index + 1))) }
            (view.layerUses, view.bytesReferenced, view.imagesWithExploited) = (Int(row.integer(6)), row.integer(7), Int(row.integer(8)))
        }
        try database.query(
            "SELECT \(Self.imageColumns) FROM reports ORDER BY critical DESC, high DESC, medium DESC, low DESC, unknown DESC, name LIMIT ?",
            [.integer(Int64(top))]
        ) { view.mostAtRisk.append(Self.imageRow($0)) }
        func vulnerability(_ row: SQLiteRow) -> FleetVulnerability {
            FleetVulnerability(
                id: row.text(0) ?? "", severity: row.text(1) ?? "", images: Int(row.integer(2)),
                packages: (row.text(3) ?? "").split(separator: "\n").map(String.init), kevDateAdded: row.text(4), knownRansomware: row.integer(5) != 0)
        }
        let columns = "id, severity, images, packages, kev_added, ransomware"
        try database.query(
            "SELECT \(columns) FROM fleet_vulnerabilities WHERE images > 0 ORDER BY images DESC, rank DESC, id LIMIT ?", [.integer(Int64(top))]
        ) { view.widespread.append(vulnerability($0)) }
        var exploited: [FleetVulnerability] = []
        try database.query("SELECT \(columns) FROM fleet_vulnerabilities WHERE images > 0 AND kev_added IS NOT NULL") {
            exploited.append(vulnerability($0))
        }
        for entry in exploited {
            var names: [String] = []
            try database.query(
                """
                SELECT DISTINCT k.name FROM report_finding_keys k JOIN report_findings f ON f.name = k.name AND f.ordinal = k.ordinal
                WHERE k.key = ? AND f.id = ? ORDER BY k.name LIMIT ?
                """, [.text(entry.id), .text(entry.id), .integer(Int64(top))]
            ) { names.append($0.text(0) ?? "") }
            view.exploited.append((entry, names))
        }
        try database.query("SELECT gap, images FROM fleet_gaps WHERE images > 0") { row in view.missing[row.text(0) ?? ""] = Int(row.integer(1)) }
        try database.query("SELECT key, parent, layer, depth, size FROM fleet_prefixes") { row in
            view.prefixes.append(
                LayerPrefix(key: row.text(0) ?? "", parent: row.text(1), layer: row.text(2) ?? "", depth: Int(row.integer(3)), size: row.integer(4)))
        }
        try database.query("SELECT chain, images, unchecked, lowest_finding_depth FROM fleet_chains WHERE images > 0") { row in
            view.chains[row.text(0) ?? ""] = FleetChain(
                images: Int(row.integer(1)), names: [], unchecked: row.integer(2) > 0, lowestFindingDepth: row.isNull(3) ? nil : Int(row.integer(3)))
        }
        // The first names of each chain from the index on (chain, name), and the first one's
        // release's end of support.
        for chain in view.chains.keys {
            try database.query("SELECT name, missing FROM reports WHERE chain = ? ORDER BY name LIMIT 3", [.text(chain)]) { row in
                if view.chains[chain]?.names.isEmpty == true {
                    view.chains[chain]?.lifecycle = FleetChain.lifecycle(in: (row.text(1) ?? "").split(separator: "\n").map(String.init))
                }
                view.chains[chain]?.names.append(row.text(0) ?? "")
            }
        }
        try database.query("SELECT layer, findings FROM fleet_layer_findings") { row in
            let findings = row.text(1) ?? ""
            view.layerFindings[row.text(0) ?? ""] = findings.isEmpty ? [] : findings.split(separator: "\n").map(String.init)
        }
        return view
    }

    public func images(_ filter: ImagesFilter, after: String?, limit: Int) async throws -> [ImageRow] {
        var parameters: [SQLiteValue] = []
        var conditions: [String] = []
        if let after {
            conditions.append("name > ?")
            parameters.append(.text(after))
        }
        if let repository = filter.repository {
            conditions.append("repository = ?")
            parameters.append(.text(repository))
        }
        if let registry = filter.registry {
            // Without a port, the host at any port too (`ImagesFilter.registry(_:isWithin:)`).
            let length = Int64(registry.unicodeScalars.count + 1)
            if registry.contains(":") {
                conditions.append("substr(name, 1, ?) = ?")
                parameters += [.integer(length), .text(registry + "/")]
            } else {
                conditions.append("(substr(name, 1, ?) = ? OR (substr(name, 1, ?) = ? AND substr(name, ?, 1) BETWEEN '0' AND '9'))")
                parameters += [.integer(length), .text(registry + "/"), .integer(length), .text(registry + ":"), .integer(length + 1)]
            }
        }
        if let severities = filter.severities {
            let columns = ImageRow.severities.filter(severities.contains).map { "\($0.lowercased()) > 0" }
            conditions.append("(" + (columns.isEmpty ? "0" : columns.joined(separator: " OR ")) + ")")
        }
        if let query = filter.query {
            conditions.append(
                "(instr(lower(name), ?) > 0 OR name IN (SELECT name FROM report_finding_keys WHERE key IN "
                    + "(SELECT key FROM fleet_keys WHERE lower(key) = ? AND images > 0)) "
                    + "OR COALESCE(manifest_digest, 'report:' || name) IN (SELECT key FROM image_packages WHERE instr(names, ?) > 0))")
            parameters += [.text(query), .text(query), .text(query)]
        }
        let sql = "SELECT \(Self.imageColumns), \(Self.matchedAgainst) FROM reports WHERE " + (conditions.isEmpty ? "1" : conditions.joined(separator: " AND "))
            + " ORDER BY name LIMIT ?"
        let all = parameters + [.integer(Int64(limit))]
        return try await database.read { database in
            var rows: [ImageRow] = []
            try database.query(sql, all) { row in
                var image = Self.imageRow(row)
                image.matchedAgainst = row.text(20)
                rows.append(image)
            }
            return rows
        }
    }

    /// A report row's image's newest scan's advisory version (by its head).
    static let matchedAgainst = "(SELECT s.advisory_version FROM heads h JOIN scans s ON s.id = h.scan_id WHERE h.name = reports.name)"

    static let imageColumns = "name, manifest_digest, os, critical, high, medium, low, unknown, findings, fixable, new_findings, resolved, exploited, layers, "
        + "bytes, chain, fully_checked, missing, repository, tag"

    static func imageRow(_ row: SQLiteRow) -> ImageRow {
        var bySeverity: [String: Int] = [:]
        for (index, severity) in ImageRow.severities.enumerated() where row.integer(Int32(index + 3)) > 0 {
            bySeverity[severity] = Int(row.integer(Int32(index + 3)))
        }
        let missing = row.text(17) ?? ""
        return ImageRow(
            name: row.text(0) ?? "", manifestDigest: row.text(1), os: row.text(2), bySeverity: bySeverity, findings: Int(row.integer(8)),
            fixable: Int(row.integer(9)), new: Int(row.integer(10)), resolved: Int(row.integer(11)), exploited: Int(row.integer(12)),
            layers: Int(row.integer(13)), bytes: row.integer(14), chain: row.text(15), fullyChecked: row.integer(16) != 0,
            missing: missing.isEmpty ? [] : missing.split(separator: "\n").map(String.init), repository: row.text(18), tag: row.text(19))
    }

    public func report(name: String) async throws -> [UInt8]? {
        try await database.read { database in
            var document: [UInt8]?
            try database.query("SELECT document FROM reports WHERE name = ?", [.text(name)]) { document = $0.blob(0) }
            return document
        }
    }

    public func reportPlace(name: String) async throws -> (repository: String, tag: String?)? {
        try await database.read { database in
            var place: (repository: String, tag: String?)?
            try database.query("SELECT repository, tag FROM reports WHERE name = ?", [.text(name)]) { place = ($0.text(0) ?? "", $0.text(1)) }
            return place
        }
    }

    public func reportedScanTime(name: String) async throws -> Date? {
        try await database.read { database in
            var at: Date?
            try database.query(
                "SELECT s.scanned_at FROM reports r JOIN heads h ON h.name = r.name AND h.scan_id = r.scan_id JOIN scans s ON s.id = h.scan_id WHERE r.name = ?",
                [.text(name)]
            ) { at = Self.date($0.integer(0)) }
            return at
        }
    }

    public func reportsBehindScans(limit: Int) async throws -> [(name: String, manifestDigest: Digest, scannedAt: Date)] {
        try await database.read { database in
            var found: [(name: String, manifestDigest: Digest, scannedAt: Date)] = []
            try database.query(
                """
                SELECT r.name, i.manifest_digest, s.scanned_at FROM reports r JOIN heads h ON h.name = r.name JOIN scans s ON s.id = h.scan_id
                JOIN images i ON i.image_key = s.image_key
                WHERE r.manifest_digest IS NOT NULL AND i.manifest_digest IS NOT NULL AND i.manifest_digest <> r.manifest_digest
                    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image = r.name AND j.state IN ('queued', 'running'))
                ORDER BY r.name LIMIT ?
                """, [.integer(Int64(limit))]
            ) { row in
                if let name = row.text(0), let digest = row.text(1) { found.append((name, try Digest(parsing: digest), Self.date(row.integer(2)))) }
            }
            return found
        }
    }

    public func reports(repository: String, reference: String) async throws -> [(name: String, document: [UInt8])] {
        try await database.read { database in
            var found: [(name: String, document: [UInt8])] = []
            try database.query(
                "SELECT name, document FROM reports WHERE repository = ? AND (tag = ? OR manifest_digest = ?) ORDER BY scan_id DESC",
                [.text(repository), .text(reference), .text(reference)]
            ) { found.append(($0.text(0) ?? "", $0.blob(1))) }
            return found
        }
    }

    public func scanHistory(repository: String, reference: String) async throws -> [ScanSummary] {
        try await database.read { database in
            var names: [String] = []
            try database.query(
                "SELECT name FROM reports WHERE repository = ? AND (tag = ? OR manifest_digest = ?) ORDER BY name",
                [.text(repository), .text(reference), .text(reference)]
            ) { names.append($0.text(0) ?? "") }
            var summaries: [ScanSummary] = []
            for name in names {
                var scans: [(Date, String?, String, [StoredFinding])] = []
                try database.query(
                    """
                    SELECT s.scanned_at, i.manifest_digest, s.advisory_version, s.findings FROM scans s
                    JOIN images i ON i.image_key = s.image_key WHERE s.name = ? ORDER BY s.id
                    """, [.text(name)]
                ) { row in scans.append((Self.date(row.integer(0)), row.text(1), row.text(2) ?? "", StoredFinding.decode(row.blob(3)))) }
                summaries += ScanSummary.history(name: name, scans: scans)
            }
            return summaries.sorted { $0.scannedAt > $1.scannedAt }
        }
    }

    public func enqueueNotifications(_ notifications: [OutgoingNotification], now: Date) async throws {
        guard !notifications.isEmpty else { return }
        try await database.write { database in
            try database.transaction {
                for notification in notifications {
                    try database.query(
                        "INSERT OR IGNORE INTO notifications (delivery_id, url, body, next_attempt) VALUES (?, ?, ?, ?)",
                        [.text(notification.deliveryID), .text(notification.url), .blob(notification.body), .integer(Self.milliseconds(now))])
                }
            }
        }
    }

    public func dueNotifications(limit: Int, lease: Duration, urls: [String], now: Date) async throws -> [OutgoingNotification] {
        let at = Self.milliseconds(now)
        guard !urls.isEmpty else { return [] }
        return try await database.write { database in
            try database.transaction {
                var due: [OutgoingNotification] = []
                try database.query(
                    """
                    SELECT delivery_id, url, body, attempts FROM notifications WHERE delivered_at IS NULL AND next_attempt <= ?
                    AND url IN (SELECT value FROM json_each(?)) ORDER BY next_attempt, id LIMIT ?
                    """, [.integer(at), .text(Self.jsonArray(urls)), .integer(Int64(limit))]
                ) { row in
                    due.append(OutgoingNotification(deliveryID: row.text(0) ?? "", url: row.text(1) ?? "", body: row.blob(2), attempts: Int(row.integer(3))))
                }
                for notification in due {
                    try database.query(
                        "UPDATE notifications SET next_attempt = ? WHERE delivery_id = ?",
                        [.integer(at + Self.milliseconds(lease)), .text(notification.deliveryID)])
                }
                return due
            }
        }
    }

    /// `values` as a JSON array, for `json_each(?)`: a list bound as one parameter.
    static func jsonArray(_ values: [String]) -> String {
        "[" + values.map { "\"" + JSONString.escaped($0) + "\"" }.joined(separator: ",") + "]"
    }

    public func markDelivered(_ deliveryID: String, now: Date) async throws {
        try await database.write { database in
            try database.query(
                "UPDATE notifications SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE delivery_id = ?",
                [.integer(Self.milliseconds(now)), .text(deliveryID)])
        }
    }

    public func markFailed(_ deliveryID: String, error: String, retryAt: Date) async throws {
        try await database.write { database in
            try database.query(
                "UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE delivery_id = ?",
                [.text(error), .integer(Self.milliseconds(retryAt)), .text(deliveryID)])
        }
    }

    public func notificationCounts() async throws -> (delivered: Int, waiting: Int) {
        try await database.read { database in
            var counts = (0, 0)
            try database.query("SELECT COUNT(delivered_at), COUNT(*) - COUNT(delivered_at) FROM notifications") { row in
                counts = (Int(row.integer(0)), Int(row.integer(1)))
            }
            return counts
        }
    }

    public func waitingNotifications() async throws -> Int {
        try await database.read { database in
            var count = 0
            try database.query("SELECT COUNT(*) FROM notifications WHERE delivered_at IS NULL") { count = Int($0.integer(0)) }
            return count
        }
    }

    public func claimLayer(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> Bool {
        let at = Self.milliseconds(now)
        return try await database.write { database in
            var claimed = false
            try database.query(
                """
                INSERT INTO layer_claims (digest, owner, until) VALUES (?, ?, ?)
                ON CONFLICT (digest) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE layer_claims.until < ? OR layer_claims.owner = excluded.owner RETURNING digest
                """, [.text(digest.description), .text(owner), .integer(at + Self.milliseconds(lease)), .integer(at)]
            ) { _ in claimed = true }
            return claimed
        }
    }

    public func releaseLayer(_ digest: Digest, owner: String) async throws {
        try await database.write { database in
            try database.query("DELETE FROM layer_claims WHERE digest = ? AND owner = ?", [.text(digest.description), .text(owner)])
        }
    }
}

extension SQLiteStore {
    public func prune(before: Date, eventsBefore: Date) async throws -> PrunedRows {
        // Events keep their time in seconds, as the registry gives it.
        let (cutoff, eventsCutoff) = (Self.milliseconds(before), Int64(eventsBefore.timeIntervalSince1970))
        var deleted: [Int] = []
        for (table, condition, bound) in Self.pruning(cutoff: cutoff, eventsCutoff: eventsCutoff) {
            // In batches, each its own write: claims, webhooks and reports go on between them.
            var total = 0
            while true {
                let batch = try await database.write { database in
                    try database.query(
                        "DELETE FROM \(table) WHERE rowid IN (SELECT rowid FROM \(table) WHERE \(condition) LIMIT \(Self.pruneBatch))", [.integer(bound)])
                    return Int(database.changes)
                }
                total += batch
                if batch < Self.pruneBatch { break }
            }
            deleted.append(total)
        }
        return PrunedRows(
            jobs: deleted[0], notifications: deleted[1], events: deleted[2], scans: deleted[3] + deleted[4], images: deleted[5],
            inventories: deleted[7], matches: deleted[6], packageLists: deleted[8], lineage: deleted[9] + deleted[10] + deleted[11])
    }

    static let pruneBatch = 5000

    /// An `image_packages` row no report reads: its key is a report's manifest digest, or
    /// `report:NAME` for a report without one (`ReportListing.packagesKey`).
    static let orphanPackageList = """
        NOT EXISTS (SELECT 1 FROM reports r WHERE r.manifest_digest = image_packages.key)
            AND NOT (image_packages.key LIKE 'report:%' AND EXISTS (SELECT 1 FROM reports r
                WHERE r.name = substr(image_packages.key, 8) AND r.manifest_digest IS NULL))
        """

    /// The deletions of `prune` (table, condition, its cutoff): jobs, notifications, events,
    /// scans twice, images, matches, inventories. A name keeps its newest job (a dead one is its
    /// image's failure; found through `jobs_by_image`) unless it is done and the name left the
    /// fleet, and its first scan, its two newest and the one its report names (through
    /// `scans_by_name`); a name out of the fleet keeps none.
    /// Then the images no scan names (`scans_by_image`), and the inventories no image names
    /// (`images_by_inventory`), their matches first: a match stored before its inventory (the
    /// fleet path writes matches first) has none yet, and is kept. Last, the package names of
    /// manifests no report is of.
    static func pruning(cutoff: Int64, eventsCutoff: Int64) -> [(String, String, Int64)] {
        [
            (
                "jobs",
                """
                state IN ('done', 'dead') AND updated_at < ? AND (image = '' OR EXISTS (SELECT 1 FROM jobs n
                    WHERE n.repository = jobs.repository AND n.reference = jobs.reference AND n.image = jobs.image AND n.id > jobs.id)
                    OR (state = 'done' AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.name = jobs.image)
                        AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.name = jobs.image)))
                """, cutoff
            ),
            ("notifications", "delivered_at IS NOT NULL AND delivered_at < ?", cutoff),
            ("registry_events", "at < ?", eventsCutoff),
            (
                "scans",
                """
                scanned_at < ? AND id NOT IN (SELECT scan_id FROM reports)
                    AND EXISTS (SELECT 1 FROM scans o WHERE o.name = scans.name AND o.id < scans.id)
                    AND (SELECT COUNT(*) FROM (SELECT 1 FROM scans n WHERE n.name = scans.name AND n.id > scans.id LIMIT 2)) = 2
                """, cutoff
            ),
            (
                "scans",
                "scanned_at < ? AND NOT EXISTS (SELECT 1 FROM heads h WHERE h.name = scans.name) AND id NOT IN (SELECT scan_id FROM reports)",
                cutoff
            ),
            // Images keep their first sight in seconds.
            ("images", "first_seen < ? AND NOT EXISTS (SELECT 1 FROM scans s WHERE s.image_key = images.image_key)", cutoff / 1000),
            (
                "inventory_matches",
                """
                ? AND inventory_key IN (SELECT v.inventory_key FROM inventories v
                    WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.inventory_key = v.inventory_key))
                """, 1
            ),
            ("inventories", "? AND NOT EXISTS (SELECT 1 FROM images i WHERE i.inventory_key = inventories.inventory_key)", 1),
            // The package names of a manifest no report is of (a tag rebuilt daily leaves one a day).
            ("image_packages", "? AND \(orphanPackageList)", 1),
            // The fleet view's layer prefixes no chain of a stored image goes through, the chains
            // no image has, the findings of layers no such prefix has (the summary reads them all).
            (
                "fleet_prefixes",
                """
                ? AND key NOT IN (WITH RECURSIVE live(key) AS (
                    SELECT chain FROM fleet_chains WHERE images > 0
                    UNION SELECT p.parent FROM fleet_prefixes p JOIN live l ON p.key = l.key WHERE p.parent IS NOT NULL)
                SELECT key FROM live)
                """, 1
            ),
            ("fleet_chains", "? AND images <= 0 AND unchecked <= 0", 1),
            ("fleet_layer_findings", "? AND layer NOT IN (SELECT layer FROM fleet_prefixes)", 1),
        ]
    }
}
