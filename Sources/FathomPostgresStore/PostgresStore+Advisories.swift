public import FathomAdvisory
import FathomCore
public import Foundation
public import FathomStore
import PostgresNIO

extension PostgresStore: AdvisoryRecordReader {
    /// Replaces the advisories and CVSS scores of `source` in one transaction, as SQLiteStore
    /// does; rows go in as arrays (`UNNEST`), one statement per table.
    public func importAdvisories(
        _ records: [OSVRecord], scores: [String: [CVSSScore]], exploitation: [String: Exploitation], source: String, now: Date = Date()
    ) async throws -> AdvisoryImportResult {
        let plan = try AdvisoryImportPlan(records: records, scores: scores, exploitation: exploitation, source: source)
        let imported = ISO8601DateFormatter().string(from: now)
        // This process's own import is known at once, without waiting for its announcement.
        defer { advisoryVersions.invalidate() }
        return try await transaction { connection in
            // Two importers of one feed wait for each other here.
            try await run("SELECT pg_advisory_xact_lock(hashtext(\(source)))", on: connection)
            var previous: String?
            try await run("SELECT content_digest FROM imports WHERE source = \(source)", on: connection) { previous = try $0.decode(String.self) }
            if previous == plan.digest { return plan.result(changed: false) }
            var stored: [String: String] = [:]
            try await run("SELECT id, record FROM advisories WHERE source = \(source)", on: connection) { row in
                let (id, record) = try row.decode((String, String).self)
                stored[id] = record
            }
            var storedScores: [String: [CVSSScore]] = [:]
            try await run(
                "SELECT id, source, version, vector, score, type FROM cvss_scores WHERE feed = \(source) AND explicit ORDER BY seq", on: connection
            ) { row in
                let (id, score) = try Self.score(row)
                storedScores[id, default: []].append(score)
            }
            let storedExploitation = try await self.exploitation(feed: source, on: connection)
            let changes = plan.changes(stored: stored, storedScores: storedScores, storedExploitation: storedExploitation)
            try await run("DELETE FROM exploitation WHERE feed = \(source)", on: connection)
            if !plan.exploitation.isEmpty {
                let exploitedIDs = plan.exploitation.map(\.id)
                let facts = plan.exploitation.map(\.json)
                try await run(
                    "INSERT INTO exploitation (feed, id, facts) SELECT \(source), * FROM UNNEST(\(exploitedIDs)::TEXT[], \(facts)::TEXT[])",
                    on: connection)
            }
            try await run("DELETE FROM advisories WHERE source = \(source)", on: connection)
            try await run("DELETE FROM advisory_packages WHERE source = \(source)", on: connection)
            try await run("DELETE FROM cvss_scores WHERE feed = \(source)", on: connection)
            let ids = plan.encoded.map(\.record.id)
            let documents = plan.encoded.map(\.json)
            try await run(
                "INSERT INTO advisories (source, id, record) SELECT \(source), * FROM UNNEST(\(ids)::TEXT[], \(documents)::TEXT[])",
                on: connection)
            var packageIDs: [String] = []
            var ecosystems: [String] = []
            var names: [String] = []
            for row in plan.packageRows {
                packageIDs.append(row.id)
                ecosystems.append(row.ecosystem)
                names.append(row.name)
            }
            try await run(
                """
                INSERT INTO advisory_packages (source, id, ecosystem, name)
                SELECT \(source), * FROM UNNEST(\(packageIDs)::TEXT[], \(ecosystems)::TEXT[], \(names)::TEXT[])
                """, on: connection)
            for (explicit, list) in [(true, plan.explicit), (false, plan.derived)] where !list.isEmpty {
                let scoreIDs = list.map(\.id)
                let sources = list.map(\.score.source)
                let versions = list.map(\.score.version)
                let vectors = list.map(\.score.vector)
                let values = list.map(\.score.score)
                let types = list.map { $0.score.type ?? "" }
                try await run(
                    """
                    INSERT INTO cvss_scores (feed, id, source, version, vector, score, type, explicit)
                    SELECT \(source), i, s, v, x, c, NULLIF(t, ''), \(explicit)
                    FROM UNNEST(\(scoreIDs)::TEXT[], \(sources)::TEXT[], \(versions)::TEXT[], \(vectors)::TEXT[],
                        \(values)::DOUBLE PRECISION[], \(types)::TEXT[]) AS u(i, s, v, x, c, t)
                    """, on: connection)
            }
            let count = Int64(plan.result(changed: true).records)
            try await run(
                """
                INSERT INTO imports (source, imported_at, records, content_digest, live_records)
                VALUES (\(source), \(imported), \(count), \(plan.digest), \(Int64(plan.live)))
                ON CONFLICT (source) DO UPDATE SET imported_at = EXCLUDED.imported_at, records = EXCLUDED.records,
                    content_digest = EXCLUDED.content_digest, live_records = EXCLUDED.live_records
                """, on: connection)
            try await recordGeneration(changes, source: source, on: connection)
            // Heard by every listening process when this transaction commits (not before).
            try await run("SELECT pg_notify(\(Self.advisoriesChannel), '')", on: connection)
            return plan.result(changed: true)
        }
    }

    /// An id and its `CVSSScore` from the columns id, source, version, vector, score, type.
    static func score(_ row: PostgresRow) throws -> (String, CVSSScore) {
        let (id, source, version, vector, score, type) = try row.decode((String, String, String, String, Double, String?).self)
        return (id, CVSSScore(source: source, version: version, vector: vector, score: score, type: type))
    }

    func recordGeneration(_ changes: AdvisoryChanges?, source: String, on connection: PostgresConnection) async throws {
        let version = try await advisoryVersion(on: connection)
        var generation: Int64 = 0
        try await run(
            "INSERT INTO advisory_generations (version, source, listed) VALUES (\(version), \(source), \(changes != nil)) RETURNING generation",
            on: connection
        ) { generation = try $0.decode(Int64.self) }
        guard let changes else { return }
        let packages = Array(changes.packages)
        let ecosystems = packages.map(\.ecosystem)
        let names = packages.map(\.name)
        let ids = Array(changes.ids)
        try await run(
            """
            INSERT INTO advisory_changes (generation, kind, ecosystem, name)
            SELECT \(generation), 0, * FROM UNNEST(\(ecosystems)::TEXT[], \(names)::TEXT[])
            UNION ALL SELECT \(generation), 1, '', i FROM UNNEST(\(ids)::TEXT[]) AS u(i)
            """, on: connection)
    }

    public func scoreDocuments(source: String) async throws -> [String: [CVSSScore]] {
        var scores: [String: [CVSSScore]] = [:]
        try await run("SELECT id, source, version, vector, score, type FROM cvss_scores WHERE feed = \(source) AND explicit ORDER BY seq") {
            let (id, score) = try Self.score($0)
            scores[id, default: []].append(score)
        }
        return scores
    }

    public func exploitationDocuments(source: String) async throws -> [String: Exploitation] {
        try await exploitation(feed: source, on: nil)
    }

    /// The exploitation data a feed was imported with, by CVE id.
    func exploitation(feed: String, on connection: PostgresConnection?) async throws -> [String: Exploitation] {
        var found: [String: Exploitation] = [:]
        let decoder = JSONDecoder()
        try await run("SELECT id, facts FROM exploitation WHERE feed = \(feed)", on: connection) { row in
            let (id, facts) = try row.decode((String, String).self)
            do {
                found[id] = try decoder.decode(Exploitation.self, from: Data(facts.utf8))
            } catch {
                throw FathomError(.invalidInput, "the store's exploitation data of \(id) (feed \(feed)) cannot be read", cause: error)
            }
        }
        return found
    }

    public func exploitationCounts() async throws -> (kev: Int, epss: Int) {
        var counts: (Int64, Int64) = (0, 0)
        try await run(
            """
            SELECT COUNT(DISTINCT id) FILTER (WHERE facts::jsonb ? 'kev')::BIGINT, COUNT(DISTINCT id) FILTER (WHERE facts::jsonb ? 'epss')::BIGINT
            FROM exploitation
            """
        ) { counts = try $0.decode((Int64, Int64).self) }
        return (Int(counts.0), Int(counts.1))
    }

    public func exploitation(for ids: [String]) async throws -> [String: Exploitation] {
        guard !ids.isEmpty else { return [:] }
        var found: [String: Exploitation] = [:]
        let decoder = JSONDecoder()
        try await run("SELECT id, facts FROM exploitation WHERE id = ANY(\(ids)::TEXT[]) ORDER BY feed") { row in
            let (id, json) = try row.decode((String, String).self)
            let facts: Exploitation
            do {
                facts = try decoder.decode(Exploitation.self, from: Data(json.utf8))
            } catch {
                throw FathomError(.invalidInput, "the store's exploitation data of \(id) cannot be read", cause: error)
            }
            found[id] = found[id].map { $0.merging(facts) } ?? facts
        }
        return found
    }

    public func advisoryVersion() async throws -> String { try await advisoryVersion(on: nil) }

    public func advisoryVersionAsAnnounced() async throws -> String {
        if let kept = advisoryVersions.current() { return kept }
        let (epoch, asked) = (advisoryVersions.epoch(), ContinuousClock.now)
        let version = try await advisoryVersion(on: nil)
        advisoryVersions.keep(version, readAfter: epoch, now: asked)
        return version
    }

    func advisoryVersion(on connection: PostgresConnection?) async throws -> String {
        var imports: [(source: String, digest: String)] = []
        try await run("SELECT source, content_digest FROM imports", on: connection) { imports.append(try $0.decode((String, String).self)) }
        return AdvisoryImportPlan.advisoryVersion(imports)
    }

    public func advisories() async throws -> any AdvisoryLookup { try await StoredAdvisories.open(self) }

    public func advisoryPackages() async throws -> [(source: String, id: String, ecosystem: String, name: String)] {
        var rows: [(source: String, id: String, ecosystem: String, name: String)] = []
        try await run("SELECT source, id, ecosystem, name FROM advisory_packages") { rows.append(try $0.decode((String, String, String, String).self)) }
        return rows
    }

    public func liveAdvisoryCount() async throws -> Int {
        var count: Int64 = 0
        // An import by a fathom from before the count (a rolling upgrade) left none: its record count stands in.
        try await run("SELECT COALESCE(SUM(COALESCE(live_records, records)), 0)::BIGINT FROM imports") { count = try $0.decode(Int64.self) }
        return Int(count)
    }

    public func advisoryRecords(_ ids: [(source: String, id: String)]) async throws -> [(source: String, id: String, json: [UInt8])] {
        guard !ids.isEmpty else { return [] }
        let sources = ids.map(\.source)
        let names = ids.map(\.id)
        var rows: [(source: String, id: String, json: [UInt8])] = []
        try await run(
            """
            SELECT a.source, a.id, a.record FROM advisories a JOIN UNNEST(\(sources)::TEXT[], \(names)::TEXT[]) AS w(s, i)
            ON a.source = w.s AND a.id = w.i
            """
        ) { row in
            let (source, id, record) = try row.decode((String, String, String).self)
            rows.append((source, id, Array(record.utf8)))
        }
        return rows
    }

    public func cvssScores(for ids: [String]) async throws -> [String: [CVSSScore]] {
        guard !ids.isEmpty else { return [:] }
        var found: [String: [CVSSScore]] = [:]
        try await run("SELECT id, source, version, vector, score, type FROM cvss_scores WHERE id = ANY(\(ids)::TEXT[]) ORDER BY seq") {
            let (id, score) = try Self.score($0)
            found[id, default: []].append(score)
        }
        return found
    }

    public func advisoryStatistics() async throws -> AdvisoryStatistics {
        let feeds = try await advisoryFeeds()
        var ecosystems: [(String, Int)] = []
        try await run("SELECT ecosystem, COUNT(DISTINCT source || ' ' || id)::BIGINT FROM advisory_packages GROUP BY ecosystem ORDER BY ecosystem") {
            let (ecosystem, count) = try $0.decode((String, Int64).self)
            ecosystems.append((ecosystem, Int(count)))
        }
        return AdvisoryStatistics(feeds: feeds, byEcosystem: ecosystems)
    }

    public func advisoryFeeds() async throws -> [AdvisoryStatistics.Feed] {
        var feeds: [AdvisoryStatistics.Feed] = []
        try await run(
            """
            SELECT i.source, i.imported_at, i.records, f.fetched_at, f.last_modified, f.url FROM imports i
            LEFT JOIN feed_state f ON f.source = i.source ORDER BY i.source
            """
        ) { row in
            let (source, imported, records, fetched, modified, url) = try row.decode((String, String, Int64, Int64?, String?, String?).self)
            feeds.append(
                AdvisoryStatistics.Feed(
                    source: source, importedAt: imported, records: Int(records),
                    checkedAt: fetched.map { Date(timeIntervalSince1970: Double($0)) }, upstreamModified: modified, url: url))
        }
        return feeds
    }

    public func advisoryDocuments(source: String) async throws -> [String] {
        var documents: [String] = []
        try await run("SELECT record FROM advisories WHERE source = \(source) ORDER BY id") { documents.append(try $0.decode(String.self)) }
        return documents
    }

    public func feedState(_ source: String) async throws -> FeedState? {
        var state: FeedState?
        try await run(
            """
            SELECT f.url, f.etag, f.last_modified, f.fetched_at FROM feed_state f JOIN imports i ON i.source = f.source WHERE f.source = \(source)
            """
        ) { row in
            let (url, etag, modified, fetched) = try row.decode((String, String?, String?, Int64).self)
            state = FeedState(source: source, url: url, etag: etag, lastModified: modified, fetchedAt: Date(timeIntervalSince1970: Double(fetched)))
        }
        return state
    }

    public func recordFeedState(_ state: FeedState) async throws {
        let fetched = Int64(state.fetchedAt.timeIntervalSince1970)
        try await run(
            """
            INSERT INTO feed_state (source, url, etag, last_modified, fetched_at)
            VALUES (\(state.source), \(state.url), \(state.etag), \(state.lastModified), \(fetched))
            ON CONFLICT (source) DO UPDATE SET url = EXCLUDED.url, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,
                fetched_at = EXCLUDED.fetched_at
            """)
    }

    // MARK: matches kept across runs

    public func advisoryGeneration() async throws -> Int64? {
        var latest: (Int64, String)?
        try await run("SELECT generation, version FROM advisory_generations ORDER BY generation DESC LIMIT 1") {
            latest = try $0.decode((Int64, String).self)
        }
        guard let latest, latest.1 == (try await advisoryVersion()) else { return nil }
        return latest.0
    }

    public func advisoryChanges(since generation: Int64) async throws -> AdvisoryChanges? {
        var unlisted = false
        try await run("SELECT 1 FROM advisory_generations WHERE generation > \(generation) AND NOT listed LIMIT 1") { _ in unlisted = true }
        guard !unlisted else { return nil }
        var changes = AdvisoryChanges()
        try await run("SELECT kind, ecosystem, name FROM advisory_changes WHERE generation > \(generation)") { row in
            let (kind, ecosystem, name) = try row.decode((Int32, String, String).self)
            if kind == 0 {
                changes.packages.insert(AdvisoryChanges.PackageKey(ecosystem: ecosystem, name: name))
            } else {
                changes.ids.insert(name)
            }
        }
        return changes
    }

    public func storedMatch(_ inventoryKey: String) async throws -> InventoryMatch? {
        var row: (Int64, Data)?
        let matcher = Int32(ImageMatcher.version)
        try await run("SELECT generation, findings FROM inventory_matches WHERE inventory_key = \(inventoryKey) AND matcher = \(matcher)") {
            row = try $0.decode((Int64, Data).self)
        }
        guard let row, let findings = try? JSONDecoder().decode([Finding].self, from: row.1) else { return nil }
        return InventoryMatch(inventoryKey: inventoryKey, generation: row.0, findings: findings)
    }

    public func storeMatches(_ matches: [InventoryMatch]) async throws {
        guard !matches.isEmpty else { return }
        let encoder = JSONEncoder()
        // One statement for them all (array binds), so no transaction around it: BEGIN and
        // COMMIT were two of the worker's statements per image. A key once (an upsert cannot
        // change a row twice; the last match of a key wins), in key order, so two writers take
        // their row locks in the same order.
        var latest: [String: InventoryMatch] = [:]
        for match in matches { latest[match.inventoryKey] = match }
        let rows = latest.values.sorted { Array($0.inventoryKey.utf8).lexicographicallyPrecedes(Array($1.inventoryKey.utf8)) }
        let findings = try rows.map { ByteBuffer(bytes: try encoder.encode($0.findings)) }
        try await run(
            """
            INSERT INTO inventory_matches (inventory_key, generation, matcher, findings)
            SELECT k, g, \(Int32(ImageMatcher.version)), f
            FROM unnest(\(rows.map(\.inventoryKey))::TEXT[], \(rows.map(\.generation))::BIGINT[], \(findings)::BYTEA[]) AS m(k, g, f)
            ON CONFLICT (inventory_key) DO UPDATE SET generation = EXCLUDED.generation, matcher = EXCLUDED.matcher,
                findings = EXCLUDED.findings
            """)
    }
}
