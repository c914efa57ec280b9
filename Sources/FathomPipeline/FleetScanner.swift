public import FathomAdvisory
public import FathomCore
import FathomArchive
public import FathomInventory
public import FathomOCI
public import FathomSource
public import FathomStore
import DequeModule
import Foundation
public import Logging

/// One image for the fleet to scan.
public struct FleetJob: Sendable {
    /// The name history is kept under (`registry/repository:tag`, or how the source names it).
    public var name: String
    public var source: any ImageSource
    public var repository: String?
    public var tag: String?
    /// False when the scan is already in the history (a retried job whose earlier attempt
    /// recorded it before dying): the image is read and matched, and nothing is recorded again.
    public var recordsScan: Bool

    public init(name: String, source: any ImageSource, repository: String? = nil, tag: String? = nil, recordsScan: Bool = true) {
        self.name = name
        self.source = source
        self.repository = repository
        self.tag = tag
        self.recordsScan = recordsScan
    }
}

/// An image the pipeline read or re-matched from the store: its findings as matching found
/// them (before any policy), what changed since its previous scan, and the coverage.
public struct MatchedImage: Sendable {
    public var name: String
    /// The scanned image; nil when the image was re-matched from the store without reading it.
    public var result: ImageScanResult?
    public var image: ImageRecord
    public var osNamespace: String?
    public var findings: [Finding]
    public var changes: ScanChanges
    /// What the findings were checked against, and what had no advisory data.
    public var coverage: Coverage
    /// The ignore rules and VEX statements (by origin) that suppressed one of its findings,
    /// once a policy was applied to them: for a fleet's note of the unused ones.
    public var usedRules: Set<String> = []
    /// What the policy's filters left out of its findings, for a fleet's sum of it.
    public var filtered = ScanPolicy.Filtered()
}

public enum FleetOutcome: Sendable {
    case scanned(MatchedImage)
    /// Re-matched from its stored inventory with the same findings as its last scan (nothing
    /// new was written but the advisory version it was matched against). The report has the
    /// findings and the coverage of this match (coverage can change when findings do not).
    case unchanged(MatchedImage)
    /// Left out by a filter (`--pushed-since`, `--pulled-since`), with the reason.
    case skipped(name: String, reason: String)
    case failed(name: String, error: FathomError)
    /// Gone from its registry (a rescan found its tag unknown there), and taken out of the store.
    case removed(name: String)

    public var name: String {
        switch self {
        case .scanned(let report), .unchanged(let report): report.name
        case .skipped(let name, _), .failed(let name, _), .removed(let name): name
        }
    }
}

/// Decides, from the resolved image (its config and digests), whether a fleet scans it;
/// returns the reason to skip it, or nil to scan.
public typealias FleetFilter = @Sendable (FleetJob, ResolvedImage) async throws -> String?

/// The fleet pipeline: a bounded window of images in flight (resolve → layers → assemble →
/// match → persist), layers read through one single-flight cache and one budget of layer
/// reads shared by every image, matching through one fleet-wide match memo, and every scan
/// recorded in the store with what changed since the previous scan of the same name.
public final class FleetScanner: Sendable {
    public let scanner: ImageScanner
    /// Where each scan is recorded (nil: nothing is recorded, no changes are computed).
    public let history: (any ScanHistory)?
    /// Where matching finds advisories (the store's, decoded package by package as asked).
    public let index: any AdvisoryLookup
    public let advisoryVersion: String
    /// Images in flight at once. Most of an image's time is spent waiting on the network, on the
    /// layer budget or on a shared layer another image is reading (half a fleet can wait on one
    /// base layer), so this is far larger than the core count: a waiting image costs a
    /// suspended task and its manifest. It bounds memory; the layer budget bounds CPU.
    public let imageConcurrency: Int
    /// How long one image may take (`--image-timeout`); nil: no limit. Past it the image fails
    /// and the fleet goes on; a layer read it shares with other images goes on for them.
    public let imageTimeout: Duration?
    public let progress = FleetProgress()
    let matchCache = MatchCache()
    /// Findings per distinct inventory in this run: images that share one are matched once.
    let inventoryMatches = InventoryMatches()
    /// Stored inventories read in this run, by key (images of one base share one).
    let inventories = RecentInventories()
    /// Findings per distinct inventory across runs (nil: matched afresh each run), with the
    /// generation of the current advisory data (nil: the store cannot describe it, so nothing
    /// stored is reused and nothing is stored).
    let matchResults: (any MatchResults)?
    let advisoryGeneration: Int64?
    /// What changed since each generation a stored match was made against, asked once each.
    private let changesSince = Locked<[Int64: AdvisoryChanges?]>([:])
    /// How each distinct inventory's findings were found, for the run's report.
    public let matching = MatchCounters()
    /// Matches under way, by inventory key (images of one inventory wait for the first).
    private let matchesInFlight = Locked<[String: Task<InventoryMatches.Entry, any Error>]>([:])
    /// Scans recorded in batches (nil without a history); `flush` stores what is pending.
    public let writes: ScanWrites?
    let logger: Logger

    public init(
        scanner: ImageScanner, history: (any ScanHistory)?, index: any AdvisoryLookup, advisoryVersion: String,
        matchResults: (any MatchResults)? = nil, advisoryGeneration: Int64? = nil,
        imageConcurrency: Int = FleetScanner.defaultImageConcurrency(), imageTimeout: Duration? = nil,
        logger: Logger = Logger(label: "fathom.fleet")
    ) {
        self.imageTimeout = imageTimeout
        self.scanner = scanner
        self.history = history
        self.index = index
        self.advisoryVersion = advisoryVersion
        let kept = advisoryGeneration == nil ? nil : matchResults
        self.matchResults = kept
        self.advisoryGeneration = advisoryGeneration
        self.imageConcurrency = max(1, imageConcurrency)
        self.logger = logger
        writes = history.map { ScanWrites(history: $0, matchResults: kept, advisoryVersion: advisoryVersion) }
    }

    /// A fleet over `store`: its history, its advisories, and its matches kept across runs.
    public convenience init(
        scanner: ImageScanner, store: any Store, index: any AdvisoryLookup,
        imageConcurrency: Int = FleetScanner.defaultImageConcurrency(), imageTimeout: Duration? = nil,
        logger: Logger = Logger(label: "fathom.fleet")
    ) async throws {
        self.init(
            scanner: scanner, history: store, index: index, advisoryVersion: try await store.advisoryVersion(), matchResults: store,
            advisoryGeneration: try await store.advisoryGeneration(), imageConcurrency: imageConcurrency, imageTimeout: imageTimeout,
            logger: logger)
    }

    /// Stores everything a run left pending: layer facts written behind the scans, and the
    /// scans themselves. A run's results are in the store once this returns.
    public func flush() async throws {
        try await scanner.cache.flush()
        try await writes?.flush()
    }

    public static func defaultImageConcurrency() -> Int { max(64, 16 * ProcessorCount.active) }

    /// Scans every job with at most `imageConcurrency` in flight, pulling the next job only
    /// when one finishes (a listing of 100,000 tags is never materialised as tasks), and hands
    /// each outcome to `each` in this task, one at a time.
    public func run<Jobs: AsyncSequence>(
        _ jobs: Jobs, filter: FleetFilter? = nil, each: (FleetOutcome) async throws -> Void
    ) async throws where Jobs.Element == FleetJob {
        try await run(jobs, operation: { await self.scan($0, filter: filter) }, each: each)
    }

    /// The bounded window itself, for any per-item operation (a rescan re-matches or rescans).
    public func run<Jobs: AsyncSequence>(
        _ jobs: Jobs, operation: @escaping @Sendable (Jobs.Element) async -> FleetOutcome,
        each: (FleetOutcome) async throws -> Void
    ) async throws where Jobs.Element: Sendable {
        var iterator = jobs.makeAsyncIterator()
        try await withThrowingTaskGroup(of: FleetOutcome.self) { group in
            var running = 0
            var listed = false
            func startNext() async throws -> Bool {
                guard !listed else { return false }
                guard let job = try await iterator.next() else {
                    // The listing is done: now the total is known (and an ETA can be given).
                    listed = true
                    progress.setTotal(progress.snapshot.queued)
                    return false
                }
                progress.add(queued: 1)
                group.addTask { await operation(job) }
                running += 1
                return true
            }
            while running < imageConcurrency, try await startNext() {}
            while let outcome = try await group.next() {
                running -= 1
                try await each(outcome)
                _ = try await startNext()
            }
        }
        // Layer facts and scans are written behind: the run is done when they are stored.
        try await flush()
    }

    /// Scans one image; never throws (a failure is an outcome, so one image never stops a fleet).
    public func scan(_ job: FleetJob, filter: FleetFilter? = nil) async -> FleetOutcome {
        guard let limit = imageTimeout else { return await scanWithoutDeadline(job, filter: filter) }
        // The scan runs apart and is abandoned (cancelled, not awaited) at the deadline: a layer
        // read shared with other images cannot be cancelled under them, so it cannot be waited for.
        return await withCheckedContinuation { continuation in
            let answer = AnswerOnce(continuation)
            let work = Task { _ = answer.resume(returning: await self.scanWithoutDeadline(job, filter: filter)) }
            Task {
                // A quarter of a second at a time until the image is answered. One sleep to the
                // deadline kept this task, and the finished scan task it holds, until then:
                // 36 KB per image, 358 MB more at the peak for 10,000 tags under `--image-timeout 1h`.
                let deadline = ContinuousClock.now.advanced(by: limit)
                while !answer.isAnswered {
                    let left = ContinuousClock.now.duration(to: deadline)
                    guard left > .zero else { break }
                    try? await Task.sleep(for: min(left, .milliseconds(250)))
                }
                let failure = FathomError(.timedOut, "the image took longer than \(limit) (--image-timeout)", image: job.name)
                if answer.resume(returning: .failed(name: job.name, error: failure)) {
                    work.cancel()
                    progress.finish(.failed)
                    logger.info("image failed", metadata: [LogKey.image: "\(job.name)", "error": "\(failure)"])
                }
            }
        }
    }

    private func scanWithoutDeadline(_ job: FleetJob, filter: FleetFilter?) async -> FleetOutcome {
        do {
            let resolved = try await job.source.resolve(platform: scanner.platform)
            if let filter, let reason = try await filter(job, resolved) {
                progress.finish(.skipped)
                return .skipped(name: job.name, reason: reason)
            }
            // A manifest read before: its stored reading and inventory, no layer merged again.
            // (Asked with the name's previous scan, which recording the scan needs anyway.)
            let (previous, stored) = try await lookUp(job, resolved)
            let result =
                if let stored { ImageScanResult(image: resolved, reading: stored.reading, packages: stored.inventory.entries) } else {
                    try await scanner.scan(job.source, resolved: resolved)
                }
            progress.add(layersFetched: result.layersFetched, reused: result.layers.count - result.layersFetched, bytes: result.bytesFetched)
            let image = ImageRecord(
                indexDigest: resolved.indexDigest, manifestDigest: resolved.manifestDigest, configDigest: resolved.configDigest, created: resolved.config.created,
                platform: resolved.platform?.description, layers: resolved.layers)
            // An image abandoned at its deadline records nothing.
            try Task.checkCancellation()
            let report = try await finish(
                name: job.name, image: image, result: result, os: result.os, packages: result.packages, records: job.recordsScan,
                inventory: stored?.inventory, previous: previous)
            return .scanned(report)
        } catch {
            let failure = FathomError.wrapping(error, image: job.name)
            // Abandoned at the deadline: the deadline has counted and logged it.
            if Task.isCancelled { return .failed(name: job.name, error: failure) }
            progress.finish(.failed)
            logger.info("image failed", metadata: [LogKey.image: "\(job.name)", "error": "\(failure)"])
            return .failed(name: job.name, error: failure)
        }
    }

    /// What a later scan of the same manifest reads instead of merging layers; nil for an image
    /// without a manifest digest (`docker save`), which is never looked up by one.
    private func reading(of result: ImageScanResult?, inventory: Inventory) -> ImageReading? {
        guard var reading = result?.reading, result?.image.manifestDigest != nil else { return nil }
        reading.inventoryKey = inventory.key
        return reading
    }

    /// The previous scan of the job's name (`.some(nil)`: none; nil: not asked, the scan is
    /// not recorded), and the stored reading and inventory of the image's manifest, when the
    /// history keeps them for these analyzers and they describe its layers (nil: the image is
    /// read from its layers).
    private func lookUp(
        _ job: FleetJob, _ image: ResolvedImage
    ) async throws -> (previous: PreviousScan??, stored: (reading: ImageReading, inventory: Inventory)?) {
        guard let history else { return (nil, nil) }
        // The key images are stored by (`ImageRecord.key`): the manifest digest.
        guard let manifest = image.manifestDigest, image.layers.count <= scanner.limits.imageLayers else {
            return (job.recordsScan ? .some(try await history.previousScan(name: job.name)) : nil, nil)
        }
        let (previous, reading) =
            job.recordsScan
            ? try await history.previousScanAndReading(name: job.name, imageKey: manifest.description)
            : (nil, try await history.storedReading(imageKey: manifest.description))
        let asked: PreviousScan?? = job.recordsScan ? .some(previous) : nil
        // Its layers are the manifest's, and together within --max-image-bytes (else the image
        // is read, and refused, from its layers).
        guard let reading, reading.reading.layers.map(\.summary.digest) == image.layers.map(\.digest),
            reading.reading.layers.reduce(0, { $0 + $1.summary.uncompressedSize }) <= scanner.limits.imageBytes
        else { return (asked, nil) }
        if let known = inventories[reading.inventoryKey] { return (asked, (reading.reading, known)) }
        guard let inventory = try await history.inventory(reading.inventoryKey) else { return (asked, nil) }
        inventories[reading.inventoryKey] = inventory
        return (asked, (reading.reading, inventory))
    }

    /// Re-matches a stored image against the current advisories from its stored layer facts:
    /// no blob is read. Fails (for this image only) if a layer's facts are not in the store.
    public func rematch(_ record: ScanRecord) async -> FleetOutcome {
        do {
            var facts: [LayerFacts] = []
            for layer in record.image.layers {
                guard let key = layer.cacheKey, let known = try await scanner.cache.knownFacts(for: key) else {
                    throw FathomError(
                        .notFound, "the facts of this layer are not in the store (scan the image again)",
                        layer: layer.cacheKey?.description)
                }
                facts.append(known)
            }
            progress.add(layersFetched: 0, reused: facts.count, bytes: 0)
            let filesystem = MergedFilesystem(layers: facts)
            let os = OSRelease.detect(in: filesystem)
            return .scanned(
                try await finish(
                    name: record.name, image: record.image, result: nil, os: os,
                    packages: ImageInventory.packages(in: filesystem)))
        } catch {
            progress.finish(.failed)
            return .failed(name: record.name, error: FathomError.wrapping(error, image: record.name))
        }
    }

    /// The findings of `inventory`, matched once per distinct inventory in this run (images of
    /// one inventory that arrive together wait for the first one's match).
    func matches(_ inventory: Inventory) async throws -> InventoryMatches.Entry {
        if let known = inventoryMatches[inventory.key] { return known }
        let task = matchesInFlight.withLock { flights in
            if let running = flights[inventory.key] { return running }
            let task = Task {
                defer { _ = self.matchesInFlight.withLock { $0.removeValue(forKey: inventory.key) } }
                let findings = try await self.findings(of: inventory)
                let entry = InventoryMatches.Entry(
                    findings: findings, coverage: Coverage(inventory.entries, osNamespace: inventory.osNamespace, lookup: self.index),
                    osNamespace: inventory.osNamespace)
                self.inventoryMatches[inventory.key] = entry
                return entry
            }
            flights[inventory.key] = task
            return task
        }
        return try await task.value
    }

    /// The findings of `inventory`: as stored when matched against the current advisory data;
    /// else, when the store can say what changed since its stored match, that match with only
    /// the packages the changes name matched again; else matched whole. A new match is stored.
    private func findings(of inventory: Inventory) async throws -> [Finding] {
        guard let matchResults, let generation = advisoryGeneration else { return try await match(inventory.entries, of: inventory) }
        if let stored = try await matchResults.storedMatch(inventory.key) {
            if stored.generation == generation {
                matching.count(.reused)
                return stored.findings
            }
            if stored.generation < generation, let changes = try await changes(since: stored.generation) {
                let findings = try await rematch(stored.findings, of: inventory, changes: changes)
                try await writes?.matched(InventoryMatch(inventoryKey: inventory.key, generation: generation, findings: findings))
                return findings
            }
        }
        let findings = try await match(inventory.entries, of: inventory)
        try await writes?.matched(InventoryMatch(inventoryKey: inventory.key, generation: generation, findings: findings))
        return findings
    }

    private func match(_ entries: [InventoryEntry], of inventory: Inventory, partly: Bool = false) async throws -> [Finding] {
        matching.count(partly ? .updated : .matched, packages: entries.count)
        return try await ImageMatcher.findings(entries, osNamespace: inventory.osNamespace, lookup: index, cache: matchCache)
    }

    private func changes(since generation: Int64) async throws -> AdvisoryChanges? {
        if let known = changesSince.withLock({ $0[generation] }) { return known }
        let changes = try await matchResults?.advisoryChanges(since: generation)
        changesSince.withLock { $0[generation] = changes }
        return changes
    }

    /// `stored` brought up to date: the packages whose advisories changed, and those with a
    /// finding of a vulnerability whose advisories or scores changed, are matched again; every
    /// other package keeps its findings.
    private func rematch(_ stored: [Finding], of inventory: Inventory, changes: AdvisoryChanges) async throws -> [Finding] {
        var touched = Set<FindingPlace>()
        for finding in stored where changes.ids.contains(finding.id) || finding.aliases.contains(where: changes.ids.contains) {
            touched.insert(FindingPlace(finding))
        }
        let entries = inventory.entries.filter { entry in
            if touched.contains(FindingPlace(entry)) { return true }
            guard let lookup = AdvisoryIndex.lookup(for: entry.package, osNamespace: inventory.osNamespace) else { return false }
            // A Java archive's artifact without a group is matched under the group the advisories
            // name it with (`mavenName(ofArtifact:)`): any change to that artifact touches it.
            if lookup.ecosystem == "Maven" && !lookup.name.contains(":") {
                return changes.packages.contains { $0.ecosystem == "Maven" && $0.name.hasSuffix(":" + lookup.name) }
            }
            return changes.packages.contains(AdvisoryChanges.PackageKey(ecosystem: lookup.ecosystem, name: lookup.name))
        }
        guard !entries.isEmpty else {
            matching.count(.updated, packages: 0)
            return stored
        }
        let again = Set(entries.map(FindingPlace.init))
        let kept = stored.filter { !again.contains(FindingPlace($0)) }
        return ImageMatcher.sorted(kept + (try await match(entries, of: inventory, partly: true)))
    }

    /// Matches, records the scan, and computes what changed since the previous one (findings it
    /// could not check again are kept with it, so that the next scan still knows them: they
    /// come back unchanged once checked, not new). `known`:
    /// the image's stored inventory (its reading is stored already); `previous`: the name's
    /// previous scan when already read (`.some(nil)`: it has none).
    private func finish(
        name: String, image: ImageRecord, result: ImageScanResult?, os: OSRelease?, packages: [InventoryEntry], records: Bool = true,
        inventory known: Inventory? = nil, previous: PreviousScan?? = nil
    ) async throws -> MatchedImage {
        let inventory = known ?? Inventory(osNamespace: os?.namespace, entries: packages)
        let matched = try await matches(inventory)
        progress.matched()
        var changes = ScanChanges(previous: nil, current: image, findings: matched.stored, aliasKeys: matched.aliasKeys)
        if records, let history, let writes {
            // The previous scan is read now (a name is scanned once per run); the new one is
            // written with others in one transaction.
            let before: PreviousScan? = if let previous { previous } else { try await history.previousScan(name: name) }
            changes = ScanChanges(
                previous: before, current: image, findings: matched.stored, aliasKeys: matched.aliasKeys,
                unchecked: Self.unchecked(matched.coverage, osNamespace: inventory.osNamespace, packages: inventory.entries.lazy.map(\.package)),
                installed: { Self.installedVersions(of: $0, among: inventory.entries.lazy.map(\.package)) })
            // What reading found is kept with the image, once: a known image's is stored already.
            try await writes.changed(
                ScanRecord(
                    name: name, image: image, scannedAt: Date(), advisoryVersion: advisoryVersion,
                    findings: matched.stored + (changes.notChecked ?? []),
                    inventory: known == nil ? inventory : nil, reading: known == nil ? reading(of: result, inventory: inventory) : nil))
        }
        progress.finish(.scanned, findings: matched.findings.count)
        return MatchedImage(
            name: name, result: result, image: image, osNamespace: os?.namespace, findings: matched.findings,
            changes: changes, coverage: matched.coverage)
    }

    /// Whether a previous finding went unchecked by a scan (not resolved): its ecosystem
    /// unchecked as a whole (`Coverage.leavesUnchecked`), or the OS identified with none of its
    /// packages found (the package database deleted or hidden: the scan could not see them).
    public static func unchecked(
        _ coverage: Coverage, osNamespace: String?, packages: some Sequence<Package>
    ) -> (StoredFinding) -> Bool {
        let withoutDatabase = osNamespace.flatMap { namespace in
            packages.contains { Package.osEcosystems.contains($0.ecosystem) } ? nil : OSRelease.packageType(ofNamespace: namespace)
        }
        return { coverage.leavesUnchecked(ecosystem: $0.ecosystem) || $0.ecosystem == withoutDatabase }
    }

    /// The versions of `finding`'s package among `packages` (the same path, for a language
    /// package's finding that names one).
    public static func installedVersions(of finding: StoredFinding, among packages: some Sequence<Package>) -> [String] {
        packages.filter {
            $0.name == finding.package && $0.ecosystem == finding.ecosystem && (finding.path == nil || $0.path == finding.path)
        }.map(\.version)
    }

    /// Re-matches the newest scan of a name from its stored inventory: images that share an
    /// inventory are matched once, and one whose findings did not change costs a comparison
    /// (`writes` records it with the others in one transaction). Images stored before
    /// inventories were kept are re-matched from their layer facts.
    public func rematch(_ head: ScanHead) async -> FleetOutcome {
        do {
            guard let history, let writes, let key = head.inventoryKey else { return await rematchFromFacts(head) }
            let matched: InventoryMatches.Entry
            if let known = inventoryMatches[key] {
                matched = known
            } else {
                guard let inventory = try await history.inventory(key) else { return await rematchFromFacts(head) }
                matched = try await matches(inventory)
            }
            progress.matched()
            let image = try head.image()
            if matched.digest == head.findingsDigest {
                try await writes.unchanged(head.scanID)
                progress.finish(.scanned, findings: matched.findings.count)
                return .unchanged(
                    MatchedImage(
                        name: head.name, result: nil, image: image, osNamespace: matched.osNamespace, findings: matched.findings,
                        changes: ScanChanges(previous: nil, current: image, findings: matched.stored, aliasKeys: matched.aliasKeys), coverage: matched.coverage))
            }
            let previous = try await history.previousScan(head.scanID)
            var changes = ScanChanges(
                previous: previous, current: image, findings: matched.stored, aliasKeys: matched.aliasKeys,
                unchecked: { [coverage = matched.coverage] in coverage.leavesUnchecked(ecosystem: $0.ecosystem) })
            // Why each is resolved, from the image's inventory (read only then): a finding the
            // scan carried from an earlier image of the name, not checked then, may be of a
            // package this image no longer has at that version.
            if !changes.resolved.isEmpty, let inventory = try await history.inventory(key) {
                changes = ScanChanges(
                    previous: previous, current: image, findings: matched.stored, aliasKeys: matched.aliasKeys,
                    unchecked: Self.unchecked(matched.coverage, osNamespace: inventory.osNamespace, packages: inventory.entries.lazy.map(\.package)),
                    installed: { Self.installedVersions(of: $0, among: inventory.entries.lazy.map(\.package)) })
            }
            try await writes.changed(
                ScanRecord(
                    name: head.name, image: image, scannedAt: Date(), advisoryVersion: advisoryVersion,
                    findings: matched.stored + (changes.notChecked ?? [])))
            progress.finish(.scanned, findings: matched.findings.count)
            return .scanned(
                MatchedImage(
                    name: head.name, result: nil, image: image, osNamespace: matched.osNamespace, findings: matched.findings, changes: changes,
                    coverage: matched.coverage))
        } catch {
            progress.finish(.failed)
            return .failed(name: head.name, error: FathomError.wrapping(error, image: head.name))
        }
    }

    private func rematchFromFacts(_ head: ScanHead) async -> FleetOutcome {
        do {
            return await rematch(ScanRecord(name: head.name, image: try head.image(), scannedAt: Date(), advisoryVersion: "", findings: []))
        } catch {
            progress.finish(.failed)
            return .failed(name: head.name, error: FathomError.wrapping(error, image: head.name))
        }
    }
}

/// The installed package a finding is about (one inventory entry).
private struct FindingPlace: Hashable {
    var ecosystem: String
    var name: String
    var version: String
    var path: String
    var layer: Int

    init(_ finding: Finding) {
        (ecosystem, name, version, path, layer) = (finding.ecosystem, finding.package, finding.installedVersion, finding.path, finding.layerIndex)
    }

    init(_ entry: InventoryEntry) {
        (ecosystem, name, version, path, layer) = (entry.package.ecosystem, entry.package.name, entry.package.version, entry.package.path, entry.layer)
    }
}

/// How a run found each distinct inventory's findings: taken as stored (matched against the
/// current advisory data before), updated from a stored match (only the packages an advisory
/// change names matched again), or matched whole; and how many packages were matched.
public final class MatchCounters: Sendable {
    public enum Kind: Sendable { case reused, updated, matched }

    public struct Counts: Sendable, Hashable, Encodable {
        public var reused = 0
        public var updated = 0
        public var matched = 0
        public var packagesMatched = 0

        public init() {}
    }

    private let state = Locked(Counts())

    public var counts: Counts { state.withLock { $0 } }

    func count(_ kind: Kind, packages: Int = 0) {
        state.withLock { state in
            switch kind {
            case .reused: state.reused += 1
            case .updated: state.updated += 1
            case .matched: state.matched += 1
            }
            state.packagesMatched += packages
        }
    }
}

/// Findings per distinct inventory key, shared by the images of a run. Bounded by the findings
/// held: past `capacity` the oldest inventories are forgotten (and matched again if met again).
public final class InventoryMatches: Sendable {
    public struct Entry: Sendable {
        public var findings: [Finding]
        public var stored: [StoredFinding]
        /// By a stored finding's key, the keys of its aliases in its package (for `ScanChanges`).
        public var aliasKeys: [String: [String]]
        /// The digest of the encoded stored findings, as scans keep it.
        public var digest: String
        public var coverage: Coverage
        /// The OS release's advisory namespace (`Debian:12`) the inventory was matched in.
        public var osNamespace: String?

        init(findings: [Finding], coverage: Coverage, osNamespace: String?) {
            self.findings = findings
            self.osNamespace = osNamespace
            stored = findings.map(StoredFinding.init)
            aliasKeys = StoredFinding.aliasKeys(of: findings)
            digest = StoredFinding.digest(StoredFinding.encode(stored))
            self.coverage = coverage
        }
    }

    private let state = Locked<(entries: [String: Entry], order: Deque<String>, weight: Int)>(([:], [], 0))
    /// Inventories plus findings held at most (a finding is a few hundred bytes).
    let capacity: Int

    public init(capacity: Int = 200_000) { self.capacity = capacity }

    subscript(key: String) -> Entry? {
        get { state.withLock { $0.entries[key] } }
        set {
            guard let newValue else { return }
            state.withLock { state in
                guard state.entries.updateValue(newValue, forKey: key) == nil else { return }
                state.order.append(key)
                state.weight += 1 + newValue.findings.count
                while state.weight > capacity, state.order.count > 1, let oldest = state.order.popFirst() {
                    state.weight -= 1 + (state.entries.removeValue(forKey: oldest)?.findings.count ?? 0)
                }
            }
        }
    }
}

/// Scan writes gathered and stored in batches (one transaction per `batch` images): new scans,
/// and rescans that only confirm a scan's findings against newer advisory data.
public final class ScanWrites: Sendable {
    let history: any ScanHistory
    let matchResults: (any MatchResults)?
    let advisoryVersion: String
    let batch: Int
    private let pending = Locked<(changed: [ScanRecord], unchanged: [Int64])>(([], []))
    /// New matches of distinct inventories, stored before the scans that use them.
    private let matches = Locked<[InventoryMatch]>([])
    /// The first batch that could not be stored: every later flush reports it, so a run whose
    /// results were not all recorded ends with that error, not only the image that hit it.
    private let failure = Locked<FathomError?>(nil)

    public init(history: any ScanHistory, matchResults: (any MatchResults)? = nil, advisoryVersion: String, batch: Int = 256) {
        self.history = history
        self.matchResults = matchResults
        self.advisoryVersion = advisoryVersion
        self.batch = batch
    }

    package func changed(_ scan: ScanRecord) async throws {
        let full = pending.withLock { $0.changed.append(scan); return $0.changed.count + $0.unchanged.count >= batch }
        if full { try await flush() }
    }

    func matched(_ match: InventoryMatch) async throws {
        guard matchResults != nil else { return }
        let full = matches.withLock { $0.append(match); return $0.count >= batch }
        if full { try await flush() }
    }

    func unchanged(_ id: Int64) async throws {
        let full = pending.withLock { $0.unchanged.append(id); return $0.changed.count + $0.unchanged.count >= batch }
        if full { try await flush() }
    }

    /// Stores what is pending, and returns once every record gathered before the call is
    /// stored. Writes go one after another: a flush running beside this one may have taken this
    /// caller's records into its batch and still be writing them (a worker's jobs share these
    /// writes), and a report must not land before its scan.
    public func flush() async throws {
        if let failed = failure.withLock({ $0 }) { throw failed }
        let write = lastWrite.withLock { last -> Task<Void, Never> in
            let taken = pending.withLock { state in
                defer { state = ([], []) }
                return state
            }
            let newMatches = matches.withLock { state in
                defer { state = [] }
                return state
            }
            let previous = last
            let write = Task {
                await previous?.value
                await self.store(taken, newMatches)
            }
            last = write
            return write
        }
        await write.value
        if let failed = failure.withLock({ $0 }) { throw failed }
    }

    /// The newest write; each waits for the one before it.
    private let lastWrite = Locked<Task<Void, Never>?>(nil)

    private func store(_ taken: (changed: [ScanRecord], unchanged: [Int64]), _ newMatches: [InventoryMatch]) async {
        do {
            try await matchResults?.storeMatches(newMatches)
            try await history.recordRematches(changed: taken.changed, unchanged: taken.unchanged, advisoryVersion: advisoryVersion)
        } catch {
            let names = taken.changed.map(\.name)
            let failed = FathomError(
                .io, "\(names.count + taken.unchanged.count) scans could not be recorded"
                    + (names.isEmpty ? "" : " (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", …" : ""))"),
                cause: error)
            failure.withLock { $0 = $0 ?? failed }
        }
    }
}

extension StoredFinding {
    public init(_ finding: Finding) {
        self.init(
            reported: finding.id, ecosystem: finding.ecosystem, package: finding.package, installedVersion: finding.installedVersion,
            fixedVersion: finding.fixedVersion, severity: finding.severity.rawValue, path: finding.path)
    }

    /// By the key of each finding other feeds' records were merged into, the keys those
    /// records' ids have in its package (not every alias: PYSEC-2021-335 and -370 both name
    /// GHSA-qcx9-j53g-ccgf, and are not that finding).
    public static func aliasKeys(of findings: [Finding]) -> [String: [String]] {
        var keys: [String: [String]] = [:]
        for finding in findings {
            guard let merged = finding.merged, !merged.isEmpty else { continue }
            let stored = StoredFinding(finding)
            keys[stored.key, default: []] += merged.map { StoredFinding(id: $0, ecosystem: stored.ecosystem, package: stored.package,
                installedVersion: "", fixedVersion: nil, severity: "").key }
        }
        return keys
    }
}

/// A continuation resumed by whichever of two tasks answers first; the other's answer is dropped.
final class AnswerOnce<Value: Sendable>: Sendable {
    private let continuation: Locked<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) { self.continuation = Locked(continuation) }

    var isAnswered: Bool { continuation.withLock { $0 == nil } }

    /// Resumes with `value` if nothing answered yet; tells whether it did.
    func resume(returning value: Value) -> Bool {
        guard let continuation = self.continuation.withLock({ held in defer { held = nil }; return held }) else { return false }
        continuation.resume(returning: value)
        return true
    }
}

/// Inventories read from the store in a run, by key; a few hundred at most (past that, all are
/// forgotten and read again as met).
final class RecentInventories: Sendable {
    private let held = Locked<[String: Inventory]>([:])

    subscript(key: String) -> Inventory? {
        get { held.withLock { $0[key] } }
        set {
            held.withLock { held in
                if held.count >= 512 { held.removeAll() }
                held[key] = newValue
            }
        }
    }
}
