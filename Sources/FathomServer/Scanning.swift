import AsyncHTTPClient
import FathomAdvisory
import FathomFeeds
import FathomInventory
import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
public import FathomRegistry
import FathomEngine
import FathomReport
public import FathomStore
import Foundation
public import Logging
import Metrics

/// Scans what jobs name, through one fleet pipeline shared by a process's workers (one layer
/// cache and one layer budget), rebuilt when the advisory data changes; stores each scan's
/// report document for the API.
public actor ScanRunner {
    let store: any Store
    let client: RegistryClient
    let settings: ServiceConfiguration
    let logger: Logger
    private var fleet: FleetScanner?
    /// The pipeline being built, the advisory version it is built for, and its number.
    private var building: (version: String, task: Task<FleetScanner, any Error>, number: Int)?
    /// Builds started, and the number of the one in `fleet` (an older build ending last must
    /// not put its pipeline back).
    private var builds = (started: 0, installed: 0)
    /// `--ignore-file` and `--vex`, read again when they change.
    let policyFiles: PolicyFiles
    /// The policy generation the stored reports were last judged by (a change re-judges them all).
    private var judgedGeneration: Int? = nil
    private let metrics = ServiceMetrics()

    public init(
        store: any Store, client: RegistryClient, configuration: ServiceConfiguration, policy: PolicyFiles = .none, logger: Logger
    ) {
        self.policyFiles = policy
        self.store = store
        self.client = client
        self.settings = configuration
        self.logger = logger
    }

    /// The pipeline for the store's current advisory data. `announced`: as of the last import
    /// this process heard of (a scan's; no read of the store), else as the store says now (a
    /// rescan's, which must see the newest import).
    func currentFleet(announced: Bool = false) async throws -> FleetScanner {
        var version = announced ? try await store.advisoryVersionAsAnnounced() : try await store.advisoryVersion()
        if let fleet, fleet.advisoryVersion == version { return fleet }
        // The version kept differs from the pipeline's: it may be the one out of date (an
        // import no announcement covered, which a rescan here has read); ask the store before
        // building a pipeline for it, or every scan job would build one until it expired.
        if announced { version = try await store.advisoryVersion() }
        if let fleet, fleet.advisoryVersion == version { return fleet }
        // Built once per version: the jobs that ask while it is built wait for it (each build
        // reads every advisory, and a pipeline of each would bring a layer cache of its own).
        if let building, building.version == version { return try await building.task.value }
        let (store, settings, logger) = (self.store, self.settings, self.logger)
        let task = Task {
            // Layers are read once across every worker process of the store.
            let owner = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
            let cache = LayerCache(store: store, owner: owner, lease: settings.lease)
            let scanner = ImageScanner(layerConcurrency: settings.layerConcurrency, cache: cache, limits: settings.readLimits)
            return try await FleetScanner(
                scanner: scanner, store: store, index: try await store.advisories(), imageTimeout: settings.imageTimeout, logger: logger)
        }
        builds.started += 1
        let number = builds.started
        building = (version, task, number)
        defer { if building?.number == number { building = nil } }
        let fresh = try await task.value
        if number > builds.installed { (fleet, builds.installed) = (fresh, number) }
        return fresh
    }

    /// The engine for the current advisory data and the current policy.
    func currentSession(announced: Bool = false) async throws -> ScanSession {
        var policy = policyFiles.current().policy
        policy.now = Date()  // ignore rules expire by today's date, not the day the files were read
        return ScanSession(fleet: try await currentFleet(announced: announced), policy: policy)
    }

    /// The policy generation the stored reports are not yet known to be judged by, or nil when
    /// they are. A process with policy files re-judges once after it starts: the files may have
    /// changed while it was down, or on another replica.
    func policyToJudge() -> Int? {
        let generation = policyFiles.current().generation
        if judgedGeneration == nil { return policyFiles.isEmpty ? nil : generation }
        return generation != judgedGeneration ? generation : nil
    }

    /// Marks the stored reports judged by `generation` (after the rescan that judged them succeeded).
    func judged(_ generation: Int) { judgedGeneration = generation }

    /// Does `job`; throws what failed (named).
    nonisolated func run(_ job: Job) async throws {
        switch job.kind {
        case .scan: try await scan(job)
        case .rescan: try await rescan()
        case .update: try await update()
        case .harbor: try await harbor(job)
        }
    }

    /// Scans `job`'s image and stores its scan and report, and a notification when its findings
    /// changed since the previous scan of the name.
    nonisolated func scan(_ job: Job) async throws {
        let started = ContinuousClock.now
        // A retried job whose earlier attempt scanned and reported before its worker died is done.
        // (Since its first attempt began: a job of the name queued before it ended before that.)
        let firstAttempt = job.startedAt ?? job.createdAt
        if job.attempts > 1, let at = try await store.reportedScanTime(name: job.image), at >= firstAttempt {
            logger.info("already scanned by an earlier attempt", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
            return
        }
        let source: any ImageSource
        let (repository, tag): (String, String?)
        if LocalSources.isLocal(job.image) {
            // Checked again here: the job came through the store, and this process's DIR rules.
            guard let directory = settings.localSources else {
                throw FathomError(.invalidInput, "a job names a local source, and this worker reads none (--allow-local-sources DIR)", image: job.image)
            }
            let local = try LocalSources(directory).image(job.image)
            source = try local.reference.open(client: client)
            (repository, tag) = (local.repository, local.tag)
        } else {
            guard case .registry(let reference) = try SourceReference(parsing: job.image) else {
                throw FathomError(.invalidInput, "a job names a registry image (host/repository:tag)", image: job.image)
            }
            source = RegistryImageSource(reference: reference, client: client, documents: store)
            (repository, tag) = (reference.repository, reference.tag)
        }
        // A retried job whose earlier attempt recorded its scan but died before the report: the
        // report is made without recording the scan a second time, and what changed is measured
        // against the scan before the dead attempt's (so a notification is not lost either).
        var recordedByEarlierAttempt: PreviousScan?
        if job.attempts > 1, let latest = try await store.previousScan(name: job.image), latest.scannedAt >= firstAttempt {
            recordedByEarlierAttempt = latest
        }
        // A request's own policy joins the service's for this image.
        let request = try job.payload.flatMap { try JSONDecoder().decode(ServiceRoutes.ScanJobPayload.self, from: Data($0.utf8)).policy }
        let session = try await currentSession(announced: true).with(request: request)
        let fleet = session.fleet
        var outcome = await fleet.scan(
            FleetJob(name: job.image, source: source, repository: repository, tag: tag, recordsScan: recordedByEarlierAttempt == nil))
        try await fleet.flush()
        if case .scanned(var image) = outcome, let earlier = recordedByEarlierAttempt {
            logger.info("completing the report of an earlier attempt's scan", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
            image.changes = ScanChanges(
                previous: try await store.previousScan(name: job.image, before: earlier.scannedAt), current: image.image,
                findings: image.findings.map(StoredFinding.init), aliasKeys: StoredFinding.aliasKeys(of: image.findings),
                unchecked: FleetScanner.unchecked(image.coverage, osNamespace: image.osNamespace, packages: image.result?.packages.map(\.package) ?? []),
                installed: { [packages = image.result?.packages.map(\.package) ?? []] in FleetScanner.installedVersions(of: $0, among: packages) })
            outcome = .scanned(image)
        }
        switch session.evaluate(outcome) {
        case .scanned(let result):
            try await store.storeReport(result.report, name: job.image, repository: repository, tag: tag)
            if case .scanned(let image) = outcome, let read = image.result { metrics.scanned(result: read, elapsed: ContinuousClock.now - started) }
            // Checked after the report is stored: a delete handled before this check is seen
            // here, one handled after it removes the report itself.
            if try await deletedMeanwhile(job, source: source) {
                logger.info("deleted from the registry while it was scanned: out of the fleet", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
                return
            }
            try await notify(
                name: job.image, manifestDigest: result.report.artifact.manifestDigest, changes: result.changes,
                trigger: WebhookPayload.isPush(job) ? "push" : "request", advisoryVersion: fleet.advisoryVersion,
                reported: result.report.vulnerabilities.map(StoredFinding.init), aliases: Self.aliases(of: result.report))
            // Last, and never failing the job: a twin left is counted twice, not lost.
            if let digest = result.report.artifact.manifestDigest, let registry = source as? RegistryImageSource {
                do {
                    try await dropDigestTwins(of: registry.reference, repository: repository, manifestDigest: digest)
                } catch {
                    logger.warning("cannot take the report by digest of a tagged manifest out of the fleet", metadata: [
                        "image": "\(job.image)", "error": "\(FathomError.plain(error))",
                    ])
                }
            }
        case .failed(_, let error):
            // Deleted before it could be read: no failure of the fleet's. Not on a first attempt,
            // whose 404 may be the registry notifying a push before it moves the tag.
            if error.code == .notFound, job.attempts > 1 {
                do {
                    if try await deletedMeanwhile(job, source: source) {
                        logger.info("deleted from the registry before it was scanned", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
                        return
                    }
                } catch {
                    logger.warning("could not tell whether the image was deleted", metadata: ["image": "\(job.image)", "error": "\(FathomError.plain(error))"])
                }
            }
            metrics.failed()
            throw error
        case .skipped(_, let reason):
            throw FathomError(.invalidInput, reason, image: job.image)
        case .unchanged, .rematched, .removed:
            break
        }
    }
}

extension ScanRunner {
    /// One image per manifest of a repository: a multi-platform push notifies each platform's
    /// manifest by digest before the index by tag, so the tag's platform was a fleet image twice
    /// (its findings counted twice). Once a tag of the registry's repository reports the
    /// manifest, its report by digest alone leaves the fleet, whichever was scanned first; the
    /// other platforms' stay, by digest. Only a report a push made (its newest job a push's,
    /// with no request policy): one a scan request asked for by digest stays.
    nonisolated func dropDigestTwins(of reference: ImageReference, repository: String, manifestDigest: Digest) async throws {
        let names = try await store.reports(repository: repository, reference: manifestDigest.description).map(\.name)
        let same = names.compactMap { name in (try? ImageReference(parsing: name)).map { (name, $0) } }.filter { $0.1.registry == reference.registry }
        guard same.contains(where: { $0.1.tag != nil }) else { return }
        var twins: [String] = []
        for (name, twin) in same where twin.tag == nil && twin.digest == manifestDigest {
            guard let last = try await store.latestJob(repository: repository, reference: manifestDigest.description), last.image == name,
                WebhookPayload.isPush(last)
            else { continue }
            twins.append(name)
        }
        guard !twins.isEmpty else { return }
        let removed = try await store.removeImages(twins)
        if !removed.isEmpty {
            logger.info("the same manifest is reported by its tag: its report by digest leaves the fleet", metadata: ["images": "\(removed)"])
        }
    }

    /// Whether `job`'s registry tag was deleted since its last push (the registry's delete event
    /// at or after it, and the registry now saying the tag is unknown); if so the name is taken
    /// out of the fleet. One indexed read when no delete was recorded.
    nonisolated func deletedMeanwhile(_ job: Job, source: any ImageSource) async throws -> Bool {
        guard let registry = source as? RegistryImageSource, let tag = registry.reference.tag,
            let deleted = try await store.lastEvent(.delete, repository: registry.reference.repository, tag: tag, digest: nil)
        else { return false }
        let pushed = try await store.lastEvent(.push, repository: registry.reference.repository, tag: tag, digest: nil)
        guard deleted >= (pushed ?? .distantPast), await client.saysUnknown(registry.reference) else { return false }
        metrics.removed.increment(by: try await store.removeImages([job.image]).count)
        return true
    }

    /// Re-matches the stored images pushed or pulled within the rescan window against the
    /// current advisories (those already matched against them are skipped; no blob is read);
    /// each changed image gets its report updated and a notification.
    nonisolated func rescan() async throws {
        let session = try await currentSession()
        let fleet = session.fleet
        // A changed policy re-judges every stored report (from stored matches: nothing is read).
        let toJudge = await policyToJudge()
        let policyChanged = toJudge != nil
        let cutoff = Date().addingTimeInterval(-settings.rescanWindow.seconds)
        let store = self.store
        let window = settings.rescanWindow
        let inWindow: @Sendable (ScanHead) async throws -> String? = { head in
            try await Self.outsideWindow(head, cutoff: cutoff, window: window, events: store)
        }
        // Tags are checked at every rescan, those of current images too: a registry that sends
        // no events (or a lost one) leaves a moved or deleted tag for this to find.
        let moved = Locked<Set<String>>([])
        // Tags held back because their last scan died: warnings too, counted with the rest.
        let heldBack = Locked(0)
        let rescan = FleetRescan(fleet: fleet, client: settings.rescanChecksTags ? client : nil, documents: store) { head, reference, digest in
            moved.withLock { _ = $0.insert(head.name) }
            let queued = try await self.queueScan(
                of: head.name, repository: reference.repository, reference: reference.tag, digest: digest, because: "tag moved")
            if queued.heldBack { heldBack.withLock { $0 += 1 } }
            return .skipped(name: head.name, reason: "its tag moved to \(digest): \(queued.said)")
        }
        let warnings = try await rescan.run(onlyOutdated: !policyChanged, checkingCurrentTags: true, filter: policyChanged ? nil : inWindow) {
            outcome in try await self.restore(outcome, session: session)
        }
        // Not a name whose tag the checks found moved: that job, or its failure, answers for it.
        let behindHeldBack = try await queueReportsBehindScans(except: moved.withLock { $0 })
        if let toJudge { await judged(toJudge) }
        for warning in warnings { logger.warning("\(warning)") }
        metrics.rescanWarnings.record(warnings.count + heldBack.withLock { $0 } + behindHeldBack)
        let counts = fleet.matching.counts
        logger.info(
            "rescanned",
            metadata: [
                "inventoriesReused": "\(counts.reused)", "inventoriesUpdated": "\(counts.updated)", "inventoriesMatched": "\(counts.matched)",
                "packagesMatched": "\(counts.packagesMatched)", "policyChanged": "\(policyChanged)", "warnings": "\(warnings.count)",
            ])
    }

    /// Names whose newest scan is of another manifest than their report (stored by `fathom
    /// rescan` or `fathom registry` on this store, or by a job that died before its report) get
    /// a scan job: the report is made from what is stored, not left on the old image while the
    /// tag checks, which compare the registry with the scan, find nothing to do. Names with a
    /// job pending are not returned by the store, nor those in `except`; a name whose tag's last
    /// job died after its newest scan (whatever its digest) waits as a moved tag's does.
    /// Returns how many it held back for a dead job.
    @discardableResult
    nonisolated func queueReportsBehindScans(except skipped: Set<String>) async throws -> Int {
        var heldBack = 0
        for (name, digest, scannedAt) in try await store.reportsBehindScans(limit: 10_000) where !skipped.contains(name) {
            let place: (repository: String, reference: String?)
            do {
                if LocalSources.isLocal(name) {
                    guard let directory = settings.localSources else { throw FathomError(.invalidInput, "this process reads no local sources") }
                    let local = try LocalSources(directory).image(name)
                    place = (local.repository, local.tag)
                } else {
                    let reference = try ImageReference(parsing: name)
                    place = (reference.repository, reference.digest?.description ?? reference.tag)
                }
            } catch {
                logger.warning("report behind its newest scan, not scanned again", metadata: ["image": "\(name)", "error": "\(FathomError.plain(error))"])
                continue
            }
            let queued = try await queueScan(
                of: name, repository: place.repository, reference: place.reference, digest: digest, because: "report behind its newest scan",
                anyJobDeadSince: scannedAt)
            if queued.heldBack { heldBack += 1 }
        }
        return heldBack
    }

    /// How long a rescan leaves a tag whose scan died before it queues the tag again.
    static let deadScanRetryAfter: TimeInterval = 7 * 86_400

    /// Queues a scan of `name`, now at `digest`, for any worker to take: keyed `scan NAME@DIGEST`,
    /// as a push of that digest is (a late webhook of a single-platform image adds none). Not
    /// while the last job of its tag or digest is dead, for this digest (with `anyJobDeadSince`:
    /// for any, if it died after then), and died within `deadScanRetryAfter`: its failure is on
    /// record, and a rescan that queued it again would add a dead job at every run; a push or
    /// `POST /v1/scans` tries at once. Says what it did, and whether it held the scan back.
    nonisolated func queueScan(
        of name: String, repository: String, reference: String?, digest: Digest, because cause: String, anyJobDeadSince: Date? = nil
    ) async throws -> (said: String, heldBack: Bool) {
        let key = "scan \(name)@\(digest)"
        if let reference, let last = try await store.latestJob(repository: repository, reference: reference), last.state == .dead,
            last.image == name, anyJobDeadSince.map { last.updatedAt > $0 } ?? (last.key == key),
            last.updatedAt > Date().addingTimeInterval(-Self.deadScanRetryAfter)
        {
            logger.warning(
                "\(cause): its scan failed before, not queued again yet", metadata: ["image": "\(name)", "digest": "\(digest)", "job": "\(last.id)"])
            return ("its scan failed (job \(last.id)), not queued again yet", true)
        }
        let (id, added) = try await store.enqueue(NewJob(kind: .scan, key: key, image: name, repository: repository, reference: reference), now: Date())
        if added { metrics.rescanQueued.increment() }
        logger.info("\(cause): scan queued", metadata: ["image": "\(name)", "digest": "\(digest)", "job": "\(id)", "new": "\(added)"])
        return ("scan job \(id)", false)
    }

    /// Stores a rescanned image's report said anew: findings, changes, coverage and the warnings
    /// that follow from them (a rescan that changes no finding can still close a coverage gap).
    nonisolated func restore(_ outcome: FleetOutcome, session: ScanSession) async throws {
        switch outcome {
        case .scanned(let image), .unchanged(let image):
            guard let stored = try await store.report(name: image.name) else { return }
            // A local source's name (oci:PATH) is no registry reference: its report's own place.
            let place: (repository: String, tag: String?)
            if !LocalSources.isLocal(image.name), let reference = try? ImageReference(parsing: image.name) {
                place = (reference.repository, reference.tag)
            } else if let stored = try await store.reportPlace(name: image.name) {
                place = stored
            } else {
                return
            }
            let before = try ScanReport.decode(stored)
            // A scan of a newer image under the name may have stored its report meanwhile: leave it.
            guard before.artifact.manifestDigest == image.image.manifestDigest else { return }
            var matched = image
            if case .unchanged = outcome, let kept = before.changes { matched.changes = kept }
            let updated = session.rematched(before, by: matched)
            let bytes = try updated.report.document()
            // A report stored in an earlier form (json()'s pretty print) that says the same is
            // left as it is: the first rescan after an upgrade does not rewrite every report.
            if bytes != stored, bytes != (try before.document()) {
                try await store.storeReport(
                    bytes, name: image.name, repository: place.repository, tag: place.tag, manifestDigest: image.image.manifestDigest,
                    listing: ReportListing(report: updated.report, name: image.name))
            }
            if case .scanned = outcome {
                try await notify(
                    name: image.name, manifestDigest: image.image.manifestDigest, changes: updated.changes, trigger: "rescan",
                    advisoryVersion: session.fleet.advisoryVersion, aliases: Self.aliases(of: updated.report))
            }
        case .skipped(let name, let reason):
            logger.debug("left out of the rescan", metadata: ["image": "\(name)", "reason": "\(reason)"])
        case .removed(let name):
            metrics.removed.increment()
            logger.info("deleted from the registry: out of the fleet", metadata: ["image": "\(name)"])
        case .failed(let name, let error):
            logger.warning("rescan failed", metadata: ["image": "\(name)", "error": "\(FathomError.plain(error))"])
        }
    }

    /// Why `head` is left out of a scheduled rescan: its last push or pull (from the registry's
    /// events, else when the store first saw it) is older than the window.
    static func outsideWindow(_ head: ScanHead, cutoff: Date, window: Duration, events: any EventLog) async throws -> String? {
        var seen = head.firstSeen
        if let reference = try? ImageReference(parsing: head.name) {
            for action in [RegistryEvent.Action.push, .pull] {
                if let at = try await events.lastEvent(action, repository: reference.repository, tag: reference.tag, digest: head.manifestDigest) {
                    seen = max(seen ?? at, at)
                }
            }
        }
        guard let seen, seen < cutoff else { return nil }
        return "outside the rescan window (\(Int(window.seconds)) s): last pushed or pulled \(ISO8601DateFormatter().string(from: seen))"
    }

    /// `db update`: every feed, one at a time; a feed that fails keeps its advisories.
    nonisolated func update() async throws {
        let updater = FeedUpdater(store: store, http: FeedUpdater.sharedHTTPClient)
        var failures: [String] = []
        for feed in settings.feeds {
            let report = await updater.update(feed)
            if case .failed(let error) = report.outcome { failures.append("\(feed.name): \(error)") }
            if !report.warnings.isEmpty {
                logger.warning(
                    "advisory update: \(feed.name): \(report.warnings.count) warning\(report.warnings.count == 1 ? "" : "s")",
                    metadata: ["first": "\(report.warnings[0])", "unread documents": "\(report.unread)"])
            }
        }
        if !failures.isEmpty {
            logger.warning("advisory update: \(failures.count) of \(settings.feeds.count) feeds failed", metadata: ["first": "\(failures[0])"])
        }
        if failures.count == settings.feeds.count && !failures.isEmpty {
            throw FathomError(.io, "no feed could be updated: \(failures[0])")
        }
    }

    /// Queues a notification per receiver when an image has findings new or resolved (as the
    /// policy shows them) since the previous scan of its name. The first scan of a name (a scan
    /// job's, given its `reported` findings) has every finding new: the first push of a
    /// vulnerable image is the one a receiver most needs to hear of.
    /// `aliases`: by finding key, the other ids of the findings the report shows (a receiver keys on
    /// the CVE of an `ALPINE-v3.7-musl-CVE-…` finding).
    nonisolated func notify(
        name: String, manifestDigest: Digest?, changes: ScanChanges?, trigger: String, advisoryVersion: String, reported: [StoredFinding]? = nil,
        aliases: [String: [String]] = [:]
    ) async throws {
        guard !settings.notifyURLs.isEmpty else { return }
        let firstScan = changes?.previousScannedAt == nil
        var new = changes?.new ?? []
        if firstScan {
            // Not a push's of a name by digest alone: a multi-platform push notifies each
            // platform's manifest by digest too, a new name at every build (its tag's scan is
            // compared with the one before). A request for a digest is told.
            let byDigestAlone = (try? ImageReference(parsing: name)).map { $0.tag == nil && $0.digest != nil } ?? false
            guard let reported, !reported.isEmpty, !(trigger == "push" && byDigestAlone) else { return }
            new = reported
        }
        let resolved = changes?.resolved ?? []
        guard
            !new.isEmpty || !resolved.isEmpty || changes?.fixChanged != nil
                // Findings a pushed image no longer lets be checked are told once, at the push; a
                // rescan finds them unchecked again each time.
                || (trigger != "rescan" && changes?.notChecked != nil)
        else { return }
        func named(_ findings: [StoredFinding]) -> [StoredFinding] {
            findings.map { finding in
                var named = finding
                named.aliases = aliases[finding.key].flatMap { $0.isEmpty ? nil : $0 }
                return named
            }
        }
        let now = Date()
        try await enqueue(now: now) { id in
            FindingsChanged(
                deliveryId: id, event: Self.findingsChanged, trigger: trigger, image: name, manifestDigest: manifestDigest?.description,
                previousManifestDigest: firstScan ? nil : changes?.previousManifestDigest?.description,
                advisoryVersion: advisoryVersion, at: now, firstScan: firstScan ? true : nil, new: named(new), resolved: resolved,
                notChecked: changes?.notChecked, fixChanged: changes?.fixChanged.map(named))
        }
    }

    /// Queues a `scan.failed` notification per receiver for a scan job that will not be tried
    /// again (the registry's image unreadable, a layer that does not verify): the failure a
    /// push's receiver would otherwise never hear of, as Harbor sends `SCANNING_FAILED`.
    nonisolated func notifyFailed(_ job: Job, error: String) async throws {
        guard !settings.notifyURLs.isEmpty, job.kind == .scan else { return }
        let now = Date()
        try await enqueue(now: now) { id in
            ScanFailed(
                deliveryId: id, event: Self.scanFailed, trigger: WebhookPayload.isPush(job) ? "push" : "request", image: job.image,
                manifestDigest: Self.pushedDigest(of: job), job: job.id, attempts: job.attempts, error: error, at: now)
        }
    }

    /// The manifest a push's job was queued for (its key: `scan NAME@DIGEST`).
    static func pushedDigest(of job: Job) -> String? {
        guard WebhookPayload.isPush(job), let key = job.key, let at = key.lastIndex(of: "@") else { return nil }
        let digest = key[key.index(after: at)...]
        return digest.hasPrefix("sha256:") ? String(digest) : nil
    }

    /// By finding key (id and package), the aliases of `report`'s findings: one CVE in two
    /// source packages is two Debian records, each its own finding's alias.
    static func aliases(of report: ScanReport) -> [String: [String]] {
        Dictionary(report.vulnerabilities.map { (StoredFinding($0).key, $0.aliases) }, uniquingKeysWith: { first, _ in first })
    }

    static let findingsChanged = "findings.changed"
    static let scanFailed = "scan.failed"

    /// One notification per receiver, each with its own delivery id.
    private nonisolated func enqueue(now: Date, body: (String) -> some Encodable) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let notifications = try settings.notifyURLs.map { url in
            let id = UUID().uuidString.lowercased()
            return OutgoingNotification(deliveryID: id, url: url, body: Array(try encoder.encode(body(id))))
        }
        try await store.enqueueNotifications(notifications, now: now)
    }
}

/// The body of a `findings.changed` notification.
struct FindingsChanged: Encodable {
    var deliveryId: String
    var event: String
    /// `push` (a pushed image was scanned, or a tag a rescan found moved), `request` (`POST
    /// /v1/scans`) or `rescan` (new advisory data).
    var trigger: String
    var image: String
    var manifestDigest: String?
    /// The image of the name's previous scan (absent on a first scan).
    var previousManifestDigest: String?
    var advisoryVersion: String
    var at: Date
    /// True when the name had no scan before: `new` is every finding reported.
    var firstScan: Bool?
    var new: [StoredFinding]
    var resolved: [StoredFinding]
    /// Findings of the previous scan this one could not check (not resolved); absent when none.
    var notChecked: [StoredFinding]?
    /// Findings still there whose fixed version moved (each with `previousFixedVersion`); absent when none.
    var fixChanged: [StoredFinding]?
}

extension StoredFinding {
    /// A reported vulnerability as the scan history keeps it (a language package's path too).
    init(_ vulnerability: ScanReport.Vulnerability) {
        self.init(
            reported: vulnerability.id, ecosystem: vulnerability.ecosystem, package: vulnerability.package,
            installedVersion: vulnerability.installedVersion, fixedVersion: vulnerability.fixedVersion,
            severity: vulnerability.severity.rawValue, path: vulnerability.path)
    }
}

/// The body of a `scan.failed` notification: a scan job that is dead, and why.
struct ScanFailed: Encodable {
    var deliveryId: String
    var event: String
    var trigger: String
    var image: String
    /// The manifest a push's scan was for (absent for a request).
    var manifestDigest: String?
    var job: Int64
    var attempts: Int
    var error: String
    var at: Date
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The service's own counters, as swift-metrics names them (exported by `/metrics`).
struct ServiceMetrics: Sendable {
    let completed = Counter(label: "fathom_scans_completed_total")
    let failures = Counter(label: "fathom_scans_failed_total")
    let layersFetched = Counter(label: "fathom_layers_fetched_total")
    let layersReused = Counter(label: "fathom_layers_reused_total")
    let bytesFetched = Counter(label: "fathom_bytes_fetched_total")
    let latency = Metrics.Timer(label: "fathom_scan_duration_seconds")
    /// Images taken out of the fleet because their registry deleted them (the webhook's and the
    /// API's removals count under the same label).
    let removed = Counter(label: "fathom_images_removed_total")
    /// Scan jobs rescans queued: for a tag found moved, or a report behind its name's newest scan.
    let rescanQueued = Counter(label: "fathom_rescan_scans_queued_total")
    /// What the last rescan could not check (registries that did not answer, repositories that
    /// refused fathom's credentials, tags not re-checked): its warnings.
    let rescanWarnings = Gauge(label: "fathom_rescan_warnings")

    func scanned(result: ImageScanResult, elapsed: Duration) {
        completed.increment()
        layersFetched.increment(by: result.layersFetched)
        layersReused.increment(by: result.layers.count - result.layersFetched)
        bytesFetched.increment(by: Int(result.bytesFetched))
        latency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    func failed() { failures.increment() }
}
