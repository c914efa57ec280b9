public import FathomAdvisory
public import FathomCore
public import FathomInventory
public import FathomOCI
public import Foundation

// What fathom keeps between runs, one protocol per concern. Every method is async: a store may
// wait on a disk (SQLite, on threads of its own) or on a server (PostgreSQL), and never on
// Swift concurrency's few threads. The pipeline and the commands depend on these protocols;
// `openStore(_:)` is the one place that names an implementation.

/// Facts learned from verified layers, by blob digest (and the analyzer version that read them).
public protocol LayerFactsStore: Sendable {
    /// Facts of a layer read by the current analyzers, if any were stored.
    func layerFacts(_ digest: Digest) async throws -> LayerFacts?
    /// Stores facts learned from a verified layer (callers store nothing unverified).
    func storeLayerFacts(_ facts: LayerFacts, for digest: Digest) async throws
    /// Every layer with facts from the current analyzers.
    func layerDigests() async throws -> [Digest]
}

/// Which process is reading which layer: workers sharing a store read each layer once; the
/// others wait for its facts. A claim is held for a lease its reader renews; a reader that dies
/// loses it when the lease runs out.
public protocol LayerClaims: Sendable {
    /// Claims (or renews) the reading of `digest` for `owner`; false while another owner holds it.
    func claimLayer(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> Bool
    /// Gives the claim up (the facts are stored, or the read failed).
    func releaseLayer(_ digest: Digest, owner: String) async throws
    /// The stored facts of `digest` if there are any; else the claim on reading it, if no other
    /// owner holds it (`claimed`). One round trip where the store can.
    func factsOrClaim(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> (facts: LayerFacts?, claimed: Bool)
    /// Stores the facts read under `owner`'s claim and gives the claim up, at once.
    func storeClaimedLayerFacts(_ facts: LayerFacts, for digest: Digest, owner: String) async throws
    /// A mark to take before looking at a layer another owner may hold, for `waitForLayer`.
    func layerSignal() -> Int
    /// Returns when the claim on `digest` may have been given up since `signal` (at once where
    /// the store can tell), or after `limit` at the latest.
    func waitForLayer(_ digest: Digest, since signal: Int, upTo limit: Duration) async
}

extension LayerClaims {
    /// Where the store cannot tell when a claim is given up: a look every 100 ms.
    public func layerSignal() -> Int { 0 }
    public func waitForLayer(_ digest: Digest, since signal: Int, upTo limit: Duration) async {
        try? await Task.sleep(for: min(limit, .milliseconds(100)))
    }
}

extension LayerClaims where Self: LayerFactsStore {
    public func factsOrClaim(_ digest: Digest, owner: String, lease: Duration, now: Date) async throws -> (facts: LayerFacts?, claimed: Bool) {
        if let facts = try await layerFacts(digest) { return (facts, false) }
        guard try await claimLayer(digest, owner: owner, lease: lease, now: now) else { return (nil, false) }
        // The previous holder may have stored the facts between the look and the claim.
        if let facts = try await layerFacts(digest) {
            try await releaseLayer(digest, owner: owner)
            return (facts, false)
        }
        return (nil, true)
    }

    public func storeClaimedLayerFacts(_ facts: LayerFacts, for digest: Digest, owner: String) async throws {
        try await storeLayerFacts(facts, for: digest)
        try await releaseLayer(digest, owner: owner)
    }
}

/// Every scan of every name, to say what changed since the previous one.
public protocol ScanHistory: Sendable {
    /// The newest scan of each name after `name`, in name order, at most `limit`; only those
    /// last matched against another advisory version than `notMatchedAgainst`, when given.
    func latestScanHeads(after name: String?, limit: Int, notMatchedAgainst version: String?) async throws -> [ScanHead]
    /// Every name with a scan (for the registries a rescan checks).
    func scannedNames() async throws -> [String]
    /// The fleet's findings at the end of each day with scans, every name counted by its newest
    /// scan by then (the HTML report's trend), oldest first.
    func findingTrend() async throws -> [TrendPoint]
    /// A stored inventory by its key.
    func inventory(_ key: String) async throws -> Inventory?
    /// The stored reading of the image `imageKey` names (its manifest digest) and its
    /// inventory's key; nil when none was kept (or older analyzers made it).
    func storedReading(imageKey: String) async throws -> StoredReading?
    /// `previousScan(name:)` and `storedReading(imageKey:)` at once (what a scan of a name asks
    /// first; one statement where a statement costs a round trip).
    func previousScanAndReading(name: String, imageKey: String) async throws -> (previous: PreviousScan?, reading: StoredReading?)
    /// The scan `id` as the previous scan of its name (its findings decoded).
    func previousScan(_ id: Int64) async throws -> PreviousScan?
    /// The newest scan of `name`, if any (read before a batched write records the next one).
    func previousScan(name: String) async throws -> PreviousScan?
    /// The newest scan of `name` recorded before `date` (what a retried job compares against
    /// when its dead attempt had already recorded a scan).
    func previousScan(name: String, before date: Date) async throws -> PreviousScan?
    /// Records scans in one transaction: a new scan for each of `changed` (a fleet's scans, or
    /// rescans whose findings changed), and for the scans `unchanged` names only the advisory
    /// version they were matched against (no new history row).
    func recordRematches(changed: [ScanRecord], unchanged: [Int64], advisoryVersion: String) async throws
    /// Takes `names` out of the fleet (their images were deleted from the registry): each
    /// report with its findings, every running count moved back by what it held, and the
    /// name's head (the scan a rescan starts from: it is no longer re-matched), and its dead scan
    /// jobs (failures of an image that left the fleet, or of a name mistyped). The scan rows
    /// stay until the retention prunes them; without a report they are not listed. Returns the
    /// names that had a report, a head or a dead scan job.
    func removeImages(_ names: [String]) async throws -> [String]
}

extension ScanHistory {
    public func previousScanAndReading(name: String, imageKey: String) async throws -> (previous: PreviousScan?, reading: StoredReading?) {
        (try await previousScan(name: name), try await storedReading(imageKey: imageKey))
    }
}

/// Findings per distinct inventory, kept across runs with the advisory generation they were
/// matched against, and what each advisory import changed: a rescan after a change re-matches
/// only the packages and vulnerabilities the change names.
public protocol MatchResults: Sendable {
    /// The generation of the current advisory data (every import that changed something adds
    /// one); nil when the log does not describe the current data (it was changed another way).
    func advisoryGeneration() async throws -> Int64?
    /// What changed after `generation` up to the current one; nil when some change was too
    /// large to list (match in full).
    func advisoryChanges(since generation: Int64) async throws -> AdvisoryChanges?
    /// The stored match of an inventory, if any (decoded).
    func storedMatch(_ inventoryKey: String) async throws -> InventoryMatch?
    /// Stores matches (replacing older ones of the same inventories), in one transaction.
    func storeMatches(_ matches: [InventoryMatch]) async throws
}

/// The service's job queue: jobs claimed under a lease that the worker renews; a lease that
/// runs out (the worker died) returns its job to the queue; a job that fails is retried with
/// backoff up to its attempts, then dead with its last error.
public protocol JobQueue: Sendable {
    /// Queues a job unless one with the same key is queued or running; returns the id of the
    /// job that will do the work (the new one or the pending one) and whether it was added.
    func enqueue(_ job: NewJob, now: Date) async throws -> (id: Int64, added: Bool)
    /// A mark to take before looking for a job and give to `waitForJobs`.
    func jobSignal() -> Int
    /// Returns when a job may have become runnable since `signal` was taken (queued or handed
    /// back: at once where the store can tell), or after `limit` at the latest.
    func waitForJobs(since signal: Int, upTo limit: Duration) async
    /// Takes the oldest runnable jobs, at most `limit`, for `worker` with a lease until
    /// `now + lease`, in one statement (a batch). Without `localSources`, jobs that name a local
    /// image (`oci:`, `oci-archive:`) are left for a worker that reads them. The jobs of one
    /// image name run one at a time, in the order they were queued: a job waits while an
    /// earlier one of its name is running or runnable, since its scan is compared with the
    /// earlier one's (two pushes of a tag scanned at once would both be compared with the scan
    /// before them, and the slower would leave its report as the name's newest). An earlier
    /// one waiting out a retry's backoff does not hold it back (a scan of a tag reads the tag
    /// when it runs: the later job scans what the earlier would have). Only the
    /// kinds this fathom knows are taken (a newer one's wait for a newer worker).
    /// A running job whose lease ran out lost its worker (killed, out of memory): it is queued
    /// again while it has attempts left (the loss is its `lastError`); on its last, it is left
    /// to `expireLeases`.
    func claim(worker: String, lease: Duration, limit: Int, localSources: Bool, maxAttempts: Int, now: Date) async throws -> [Job]
    /// Marks dead the running jobs whose lease ran out on their last attempt (of `maxAttempts`):
    /// an image that kills every worker that reads it stops there. Returns them, each to one
    /// caller only, for their failure to be told.
    func expireLeases(maxAttempts: Int, now: Date) async throws -> [Job]
    /// Extends the leases of the jobs `worker` holds among `ids`; returns those it still holds.
    func renew(_ ids: [Int64], worker: String, lease: Duration, now: Date) async throws -> Set<Int64>
    /// Hands a job `worker` holds back to the queue at once, as it was before the claim (the
    /// attempt it took is returned): a worker stopping is not the job failing.
    func release(_ id: Int64, worker: String, now: Date) async throws
    /// Marks a job done.
    func complete(_ id: Int64, worker: String, now: Date) async throws
    /// Marks the jobs `done` done and claims up to `limit` more, as `complete` and `claim` do;
    /// in one statement where the store can (a worker refilling the place a finished job
    /// frees: one round trip where there were two). A successor of a job in `done` may be left
    /// to a later claim (PostgreSQL's one statement sees it still held back; it is announced).
    func complete(
        _ done: [Int64], thenClaim limit: Int, worker: String, lease: Duration, localSources: Bool, maxAttempts: Int, now: Date
    ) async throws -> [Job]
    /// Records a failure: queued again after `retryAfter` while attempts remain, else dead.
    /// True when this made the job dead (false too when `worker` no longer held it).
    @discardableResult
    func fail(_ id: Int64, worker: String, error: String, retryAfter: Duration, maxAttempts: Int, now: Date) async throws -> Bool
    /// Jobs in `state` (all when nil), newest first, at most `limit`, older than job `before` when given.
    func jobs(state: Job.State?, limit: Int, before: Int64?) async throws -> [Job]
    func job(_ id: Int64) async throws -> Job?
    /// The newest jobs for a repository and tag or digest, newest first, at most `limit` (the
    /// same repository and reference in several registries are several images).
    func latestJobs(repository: String, reference: String, limit: Int) async throws -> [Job]
    /// Jobs per state.
    func jobCounts() async throws -> [Job.State: Int]
}

extension JobQueue {
    /// The newest job for a repository and tag or digest, in any registry.
    public func latestJob(repository: String, reference: String) async throws -> Job? {
        try await latestJobs(repository: repository, reference: reference, limit: 1).first
    }
}

/// Notifications waiting to be delivered: each kept until its receiver accepts it, retried
/// with backoff, under one delivery id however often it is sent.
public protocol NotificationOutbox: Sendable {
    func enqueueNotifications(_ notifications: [OutgoingNotification], now: Date) async throws
    /// Takes up to `limit` due notifications to the receivers `urls` (those the process sends
    /// to: one whose receiver it was not given is left to a process that was), holding each for
    /// `lease` (another process does not send it meanwhile).
    func dueNotifications(limit: Int, lease: Duration, urls: [String], now: Date) async throws -> [OutgoingNotification]
    func markDelivered(_ deliveryID: String, now: Date) async throws
    /// Records a failed attempt; the next is at `retryAt`.
    func markFailed(_ deliveryID: String, error: String, retryAt: Date) async throws
    /// Notifications per state: delivered and waiting.
    func notificationCounts() async throws -> (delivered: Int, waiting: Int)
    /// Notifications no receiver has accepted yet (read by their index, for a gauge).
    func waitingNotifications() async throws -> Int
}

/// The newest report document of each scanned name, for the service's API.
public protocol ReportStore: Sendable {
    /// Stores `document` as the newest report of `name`, and its listing together: its findings
    /// (in the report's order) where `findings(_:after:limit:)` lists them, and what the fleet's
    /// views keep of it (`fleetView(top:)`).
    func storeReport(
        _ document: [UInt8], name: String, repository: String, tag: String?, manifestDigest: Digest?, listing: ReportListing
    ) async throws
    /// A page of the findings of every name's newest report that `filter` selects, after
    /// `after` (a name and a place in its report), at most `limit`.
    func findings(_ filter: FindingsFilter, after: (image: String, ordinal: Int)?, limit: Int) async throws -> FindingsPage
    /// Reports whose findings are not listed yet (stored before the listing existed, or by an
    /// earlier fathom), in name order, at most `limit`.
    func unlistedReports(limit: Int) async throws -> [(name: String, document: [UInt8])]
    /// Lists `name`'s report, read from `document`, if that is still its report and it is not
    /// listed yet.
    func listReport(name: String, document: [UInt8], listing: ReportListing) async throws
    /// The fleet summary's parts, from the listed reports: the worst `top` images, the `top`
    /// most widespread vulnerabilities, every exploited one with its first `top` images.
    func fleetView(top: Int) async throws -> FleetView
    /// The listed reports' totals at the end of each day a report was stored on (the
    /// dashboard's trend), oldest first: a row per day, kept as reports land, not read from
    /// the scans. Days before the trend was kept are summed into the day it began.
    func fleetTrend() async throws -> [TrendPoint]
    /// The listed images `filter` selects, in name (byte) order after `after`, at most `limit`.
    func images(_ filter: ImagesFilter, after: String?, limit: Int) async throws -> [ImageRow]
    /// The newest report of a name.
    func report(name: String) async throws -> [UInt8]?
    /// The repository and tag a name's report is found by (a local source's name is no
    /// registry reference to parse them from).
    func reportPlace(name: String) async throws -> (repository: String, tag: String?)?
    /// When the newest scan of `name` was made, if the stored report is that scan's (a job
    /// retried after its worker died checks this before scanning again).
    func reportedScanTime(name: String) async throws -> Date?
    /// Names whose report is of another manifest than their newest scan, with that scan's
    /// manifest and time, at most `limit`: a scan stored without its report (`fathom rescan` or
    /// `fathom registry` run on the service's store, or a job that died between the two). Not
    /// a name with a job queued or running: that job stores its report.
    func reportsBehindScans(limit: Int) async throws -> [(name: String, manifestDigest: Digest, scannedAt: Date)]
    /// The reports of `repository` at a tag or a manifest digest, newest first, with their names
    /// (`host/repository:tag`: one per registry that holds the repository).
    func reports(repository: String, reference: String) async throws -> [(name: String, document: [UInt8])]
    /// Every scan of the names of `repository` at a tag or manifest digest, newest first.
    func scanHistory(repository: String, reference: String) async throws -> [ScanSummary]
}

/// The registry's notification events: when a tag or digest was pushed and pulled.
public protocol EventLog: Sendable {
    /// Stores events (idempotent by event id); returns how many were new.
    @discardableResult
    func importEvents(_ events: [RegistryEvent]) async throws -> Int
    /// The newest time an event with `action` touched `repository` at `tag` or `digest`.
    func lastEvent(_ action: RegistryEvent.Action, repository: String, tag: String?, digest: Digest?) async throws -> Date?
}

/// Imported advisory feeds.
public protocol AdvisorySource: Sendable {
    /// Replaces the advisories of `source` with `records`, its CVSS scores (a severity
    /// source's, by vulnerability id) with `scores`, and its exploitation data (CISA KEV, EPSS,
    /// by CVE id) with `exploitation`, all or nothing.
    @discardableResult
    func importAdvisories(
        _ records: [OSVRecord], scores: [String: [CVSSScore]], exploitation: [String: Exploitation], source: String, now: Date
    ) async throws -> AdvisoryImportResult
    /// The CVSS scores `source` was imported with (not those read from its advisories), for export.
    func scoreDocuments(source: String) async throws -> [String: [CVSSScore]]
    /// The exploitation data `source` was imported with, by CVE id, for export.
    func exploitationDocuments(source: String) async throws -> [String: Exploitation]
    /// A version of the advisory data: changes whenever any feed's content changes.
    func advisoryVersion() async throws -> String
    /// `advisoryVersion()` as of the last import this process heard of: kept between imports
    /// where the store announces them (PostgreSQL's NOTIFY), so a scan job costs no read of it.
    /// A rescan, which must see the newest import, asks `advisoryVersion()`.
    func advisoryVersionAsAnnounced() async throws -> String
    /// The advisories for matching, read package by package as matching asks for them.
    func advisories() async throws -> any AdvisoryLookup
    /// Feeds and advisories per ecosystem.
    func advisoryStatistics() async throws -> AdvisoryStatistics
    /// The feeds alone: what the age of the data needs (`/metrics`, each session's staleness
    /// check, Harbor's metadata), without counting every advisory by ecosystem.
    func advisoryFeeds() async throws -> [AdvisoryStatistics.Feed]
    /// The stored OSV records of `source`, as JSON with sorted keys, in id order (for export).
    func advisoryDocuments(source: String) async throws -> [String]
    /// What the last download of a feed said (for a conditional request next time), when that
    /// feed's advisories are in the store.
    func feedState(_ source: String) async throws -> FeedState?
    /// Remembers a feed's download (after its advisories were imported, or found unchanged).
    func recordFeedState(_ state: FeedState) async throws
}

extension AdvisorySource {
    /// A store that announces no imports reads the version each time.
    public func advisoryVersionAsAnnounced() async throws -> String { try await advisoryVersion() }

    /// Replaces the advisories of `source`, a feed without scores of its own.
    @discardableResult
    public func importAdvisories(_ records: [OSVRecord], source: String, now: Date = Date()) async throws -> AdvisoryImportResult {
        try await importAdvisories(records, scores: [:], exploitation: [:], source: source, now: now)
    }

    /// Replaces the advisories and scores of `source`, a feed without exploitation data.
    @discardableResult
    public func importAdvisories(_ records: [OSVRecord], scores: [String: [CVSSScore]], source: String, now: Date) async throws
        -> AdvisoryImportResult
    {
        try await importAdvisories(records, scores: scores, exploitation: [:], source: source, now: now)
    }
}

/// The validators of a feed's last download: an unchanged feed then costs one request.
public struct FeedState: Sendable, Hashable {
    public var source: String
    public var url: String
    public var etag: String?
    public var lastModified: String?
    public var fetchedAt: Date

    public init(source: String, url: String, etag: String?, lastModified: String?, fetchedAt: Date) {
        self.source = source
        self.url = url
        self.etag = etag
        self.lastModified = lastModified
        self.fetchedAt = fetchedAt
    }
}

/// A whole store: every concern above, and image configs by digest.
extension JobQueue {
    public func complete(
        _ done: [Int64], thenClaim limit: Int, worker: String, lease: Duration, localSources: Bool, maxAttempts: Int, now: Date
    ) async throws -> [Job] {
        for id in done { try await complete(id, worker: worker, now: now) }
        return limit > 0
            ? try await claim(worker: worker, lease: lease, limit: limit, localSources: localSources, maxAttempts: maxAttempts, now: now) : []
    }

    /// As above, with the service's default number of attempts.
    public func complete(_ done: [Int64], thenClaim limit: Int, worker: String, lease: Duration, localSources: Bool, now: Date) async throws -> [Job] {
        try await complete(
            done, thenClaim: limit, worker: worker, lease: lease, localSources: localSources, maxAttempts: Job.defaultMaxAttempts, now: now)
    }

    /// Takes the oldest runnable jobs, with the service's default number of attempts.
    public func claim(worker: String, lease: Duration, limit: Int, localSources: Bool, now: Date) async throws -> [Job] {
        try await claim(worker: worker, lease: lease, limit: limit, localSources: localSources, maxAttempts: Job.defaultMaxAttempts, now: now)
    }

    /// Takes the oldest runnable job for `worker`.
    public func claim(worker: String, lease: Duration, now: Date) async throws -> Job? {
        try await claim(worker: worker, lease: lease, limit: 1, localSources: true, now: now).first
    }

    /// Takes the oldest runnable jobs, at most `limit`, whatever images they name.
    public func claim(worker: String, lease: Duration, limit: Int, now: Date) async throws -> [Job] {
        try await claim(worker: worker, lease: lease, limit: limit, localSources: true, now: now)
    }

    /// Extends the lease of a job `worker` holds; false when it lost the job.
    public func renew(_ id: Int64, worker: String, lease: Duration, now: Date) async throws -> Bool {
        try await renew([id], worker: worker, lease: lease, now: now).contains(id)
    }

    /// The newest jobs in `state`.
    public func jobs(state: Job.State?, limit: Int) async throws -> [Job] { try await jobs(state: state, limit: limit, before: nil) }
}

/// Rows the service no longer reads, deleted after a retention period so that the queue, the
/// outbox, the event log and the scan history do not grow with every job, delivery, event
/// and scan.
public protocol Retention: Sendable {
    /// Deletes what is older than its cutoff: jobs done or dead last changed before `before`,
    /// except each image name's newest (a dead one is its failure in the fleet summary) while
    /// the name is in the fleet or its job is dead;
    /// notifications delivered before it; registry events from before `eventsBefore` (the
    /// rescan window reads them); and each name's scans made before `before` except its first
    /// (when it was first seen), its two newest (the head, and the one a retried job measures
    /// its changes against) and any a stored report names; every scan made before `before` of
    /// a name that left the fleet (no head and no report: deleted from its registry). Then
    /// what only those scans held: images first seen before `before` that no scan names,
    /// inventories no image names, and their matches. Layer facts stay: they are the cache of
    /// each distinct layer, which a later image may share.
    func prune(before: Date, eventsBefore: Date) async throws -> PrunedRows
}

/// What one `prune` deleted.
public struct PrunedRows: Sendable, Equatable {
    public var jobs: Int
    public var notifications: Int
    public var events: Int
    public var scans: Int
    public var images: Int
    public var inventories: Int
    public var matches: Int
    /// The package names kept for the image search of manifests no report is of any more.
    public var packageLists: Int
    /// The fleet view's layer prefixes, chains and layer findings no stored image has any more.
    public var lineage: Int

    public init(
        jobs: Int, notifications: Int, events: Int, scans: Int, images: Int = 0, inventories: Int = 0, matches: Int = 0, packageLists: Int = 0,
        lineage: Int = 0
    ) {
        (self.jobs, self.notifications, self.events, self.scans) = (jobs, notifications, events, scans)
        (self.images, self.inventories, self.matches, self.packageLists, self.lineage) = (images, inventories, matches, packageLists, lineage)
    }

    public var total: Int { jobs + notifications + events + scans + images + inventories + matches + packageLists + lineage }
}

public protocol Store: LayerFactsStore, LayerClaims, ScanHistory, MatchResults, JobQueue, ReportStore, NotificationOutbox, EventLog, AdvisorySource,
    DocumentCache, Retention
{
    /// Where the store is, as the user named it.
    var location: String { get }
    /// Rows per kind, for `fathom db stats`.
    func counts() async throws -> StoreCounts
    /// Finishes the work asked for and releases the store's threads and connections.
    func close() async throws
    /// Why the store cannot be reached at all, found within `timeout` by connecting afresh
    /// (nil: it can be, or it is not a server). Asked after a query failed or timed out, to tell
    /// a store that is down from one that is slow.
    func unreachable(within timeout: Duration) async -> String?
}

extension Store {
    public func unreachable(within timeout: Duration) async -> String? { nil }
}

/// What an advisory import changed.
public struct AdvisoryImportResult: Sendable {
    public var source: String
    /// Advisories, plus the vulnerabilities a severity source scores (the feed's record count).
    public var records: Int
    public var advisories: Int
    /// Vulnerabilities given CVSS scores of the source's own (NVD's).
    public var scored: Int
    /// Vulnerabilities given exploitation data (KEV entries, EPSS scores).
    public var exploited = 0
    /// False when the feed's content was already imported exactly so.
    public var changed: Bool

    public init(source: String, records: Int, advisories: Int, scored: Int, exploited: Int = 0, changed: Bool) {
        (self.source, self.records, self.advisories, self.scored, self.exploited, self.changed) =
            (source, records, advisories, scored, exploited, changed)
    }

    /// "1070 advisories", "CVSS scores of 2 vulnerabilities", "exploitation data of 1404
    /// vulnerabilities", or several.
    public var contents: String { Self.describe(advisories: advisories, scored: scored, exploited: exploited) }

    public static func describe(advisories: Int, scored: Int, exploited: Int = 0) -> String {
        var parts: [String] = []
        if advisories > 0 || (scored == 0 && exploited == 0) { parts.append("\(advisories) advisor\(advisories == 1 ? "y" : "ies")") }
        if scored > 0 { parts.append("CVSS scores of \(scored) vulnerabilit\(scored == 1 ? "y" : "ies")") }
        if exploited > 0 { parts.append("exploitation data of \(exploited) vulnerabilit\(exploited == 1 ? "y" : "ies")") }
        return parts.joined(separator: " and ")
    }
}

public struct AdvisoryStatistics: Sendable {
    public struct Feed: Sendable {
        public var source: String
        public var importedAt: String
        public var records: Int
        /// When `db update` last asked the feed's server (nil for a feed imported from a file).
        public var checkedAt: Date?
        /// The server's `Last-Modified` for the feed, when it sent one.
        public var upstreamModified: String?
        public var url: String?

        /// When this feed's data was last known current: its last check, else its import.
        public var lastUpdated: Date? { checkedAt ?? ISO8601DateFormatter().date(from: importedAt) }

        public init(source: String, importedAt: String, records: Int, checkedAt: Date?, upstreamModified: String?, url: String?) {
            (self.source, self.importedAt, self.records) = (source, importedAt, records)
            (self.checkedAt, self.upstreamModified, self.url) = (checkedAt, upstreamModified, url)
        }
    }
    public var feeds: [Feed]
    /// Advisories per OSV ecosystem (an advisory affecting two ecosystems counts in each).
    public var byEcosystem: [(ecosystem: String, advisories: Int)]

    public init(feeds: [Feed], byEcosystem: [(ecosystem: String, advisories: Int)]) {
        self.feeds = feeds
        self.byEcosystem = byEcosystem
    }

    /// The oldest feed's last update: how stale the data may be.
    public var oldestUpdate: Date? { feeds.oldestUpdate }

    /// A warning when some feed was last updated before `cutoff`, naming the oldest.
    public func staleWarning(olderThan cutoff: Date, maxAge: String, now: Date = Date()) -> String? {
        feeds.staleWarning(olderThan: cutoff, maxAge: maxAge, now: now)
    }
}

extension [AdvisoryStatistics.Feed] {
    /// The oldest feed's last update: how stale the data may be.
    public var oldestUpdate: Date? { compactMap(\.lastUpdated).min() }

    /// A warning when some feed was last updated before `cutoff`, naming the oldest.
    public func staleWarning(olderThan cutoff: Date, maxAge: String, now: Date = Date()) -> String? {
        let feeds = self
        let stale = feeds.filter { ($0.lastUpdated ?? .distantPast) < cutoff }
        guard let oldest = stale.min(by: { ($0.lastUpdated ?? .distantPast) < ($1.lastUpdated ?? .distantPast) }) else { return nil }
        let days = Int(now.timeIntervalSince(oldest.lastUpdated ?? .distantPast) / 86_400)
        // Every stale feed is named (the oldest first), not only the oldest.
        let others = stale.filter { $0.source != oldest.source }.map(\.source).sorted()
        let also = others.isEmpty ? "" : "; also " + others.prefix(5).joined(separator: ", ") + (others.count > 5 ? ", …" : "")
        return "advisory data older than --max-db-age \(maxAge): \(stale.count) feed\(stale.count == 1 ? "" : "s") not updated since "
            + "\(oldest.lastUpdated.map { ISO8601DateFormatter().string(from: $0) } ?? "ever") (\(oldest.source), \(days) days\(also)): "
            // Feeds imported from files (an air-gapped store) are brought up to date by newer files.
            + (stale.allSatisfy { $0.checkedAt == nil } ? "import newer copies with fathom db import (or run fathom db update)" : "run fathom db update (or fathom db pull)")
    }
}

public struct StoreCounts: Sendable {
    public var layers: Int
    public var images: Int
    public var scans: Int
    public var events: Int

    public init(layers: Int, images: Int, scans: Int, events: Int) {
        (self.layers, self.images, self.scans, self.events) = (layers, images, scans, events)
    }
}
