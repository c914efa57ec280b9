import FathomAdvisory
import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomStore
import FathomTestSupport
import Foundation
import Testing
import FathomSQLiteStore

/// The pipeline's parts on their own: the single-flight cache, the semaphore, event envelopes,
/// and the change computation.
@Suite struct PipelineUnitTests {
    /// Shared mutable state for the tasks of a test.
    final class Shared<Value: Sendable>: Sendable {
        // FathomCore's pthread lock, not the standard library's Mutex: Thread Sanitizer cannot see
        // the futex Mutex waits on, and reports every access under it as a race.
        let state: Locked<Value>
        init(_ value: Value) { state = Locked(value) }
        func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { state.withLock { body(&$0) } }
    }

    static func facts(_ name: String) -> LayerFacts {
        let digest = Digest.sha256(of: Array(name.utf8))
        return LayerFacts(
            summary: LayerReadSummary(
                digest: digest, compression: .gzip, compressedSize: 10, uncompressedSize: 20, entryCount: 1, fileCount: 1),
            files: ["etc/\(name)": FileFact(kind: .file, text: name)], whiteouts: [], opaqueDirectories: [], warnings: [])
    }

    @Test func fiftyConcurrentRequestsForOneLayerReadItOnce() async throws {
        let store = try await SQLiteStore.open(path: try Fixtures.temporaryDirectory("cache") + "/fathom.db")
        let cache = LayerCache(store: store)
        let reads = Shared(0)
        let key = Digest.sha256(of: Array("layer".utf8))
        let outcomes = try await withThrowingTaskGroup(of: LayerCache.Outcome.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await cache.facts(for: key) {
                        reads.withLock { $0 += 1 }
                        try await Task.sleep(for: .milliseconds(200))
                        return Self.facts("layer")
                    }.1
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(reads.withLock { $0 } == 1)
        #expect(outcomes.filter { if case .fetched = $0 { true } else { false } }.count == 1)
        // Facts are written behind the read: flush before looking in the store (without it the
        // look raced the write, and lost once on a loaded CI machine).
        try await cache.flush()
        #expect(try await store.layerFacts(key) == Self.facts("layer"))
        // A new cache over the same store reads nothing.
        let (_, outcome) = try await LayerCache(store: store).facts(for: key) { Issue.record("read again"); return Self.facts("x") }
        #expect({ if case .reused = outcome { true } else { false } }())
    }

    @Test func aFailedReadIsNotStoredAndFailsEveryWaiter() async throws {
        let store = try await SQLiteStore.open(path: try Fixtures.temporaryDirectory("cache") + "/fathom.db")
        let cache = LayerCache(store: store)
        let reads = Shared(0)
        let key = Digest.sha256(of: Array("bad".utf8))
        let failures = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await cache.facts(for: key) {
                            reads.withLock { $0 += 1 }
                            try await Task.sleep(for: .milliseconds(100))
                            throw FathomError(.digestMismatch, "the blob's content hashes to something else")
                        }
                        return false
                    } catch {
                        return (error as? FathomError)?.code == .digestMismatch
                    }
                }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(failures == 10)
        #expect(reads.withLock { $0 } == 1)
        #expect(try await store.layerFacts(key) == nil)
        #expect(try await store.layerDigests().isEmpty)
        // Another run (a new cache) tries again, and may succeed.
        let (facts, _) = try await LayerCache(store: store).facts(for: key) { Self.facts("bad") }
        #expect(facts == Self.facts("bad"))
    }

    /// A worker's jobs share the scan writes: one job's flush may take another's scan into its
    /// batch. The other's flush then returns only once that batch is stored, or its report would
    /// land before its scan. sqlite3 holds the store's writer for two seconds meanwhile.
    @Test func aFlushReturnsOnceTheBatchHoldingItsRecordsIsStored() async throws {
        let path = try Fixtures.temporaryDirectory("writes") + "/fathom.db"
        let store = try await SQLiteStore.open(path: path)
        defer { Task { try? await store.close() } }
        let writes = ScanWrites(history: store, advisoryVersion: "v1", batch: 100)
        func record(_ name: String) -> ScanRecord {
            let image = ImageRecord(
                manifestDigest: Digest.sha256(of: Array(name.utf8)), configDigest: Digest.sha256(of: Array("config \(name)".utf8)), created: nil,
                platform: nil, layers: [])
            return ScanRecord(name: name, image: image, scannedAt: Date(), advisoryVersion: "v1", findings: [])
        }
        try await writes.changed(record("r/a:1"))
        try await writes.changed(record("r/b:1"))
        let holder = Task { try await Tool.run(["bash", "-c", "(echo 'BEGIN IMMEDIATE;'; sleep 2; echo 'COMMIT;') | sqlite3 '\(path)'"]) }
        // Until sqlite3 holds the writer (a write with no wait fails meanwhile).
        for _ in 0..<100 {
            let probe = try await Tool.run(["sqlite3", "-cmd", ".timeout 0", path, "BEGIN IMMEDIATE; COMMIT;"], check: false)
            if probe.status != 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // a's flush takes both scans and waits for the writer; b's flush finds nothing pending.
        let first = Task { try await writes.flush() }
        try await Task.sleep(for: .milliseconds(300))
        try await writes.flush()
        #expect(try await store.previousScan(name: "r/b:1") != nil, "a flush returned before its scan was stored")
        try await first.value
        _ = try await holder.value
    }

    @Test func semaphoreBoundsConcurrency() async throws {
        let semaphore = AsyncSemaphore(permits: 3)
        let state = Shared((running: 0, peak: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await semaphore.withPermit {
                        state.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running) }
                        try await Task.sleep(for: .milliseconds(5))
                        state.withLock { $0.running -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(state.withLock { $0.peak } == 3)
    }

    @Test func semaphoreWaiterCanBeCancelled() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        let waiter = Task { try await semaphore.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        semaphore.release()
        try await semaphore.acquire()  // the cancelled waiter did not take the permit
    }

    @Test func readsRegistryNotificationEnvelopes() async throws {
        // The shape the CNCF registry posts (docs/notifications.md), one envelope per line.
        let line1 = """
            {"events":[{"id":"320678d8-ca14-430f-8bb6-4ca139cd83f7","timestamp":"2016-03-09T14:44:26.402973972-08:00","action":"pull","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":708,"digest":"sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf","length":708,"repository":"hello-world","url":"http://192.168.100.227:5000/v2/hello-world/manifests/sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf","tag":"latest"},"request":{"id":"6df24a34-0959-4923-81ca-14f09767db19","addr":"192.168.64.11:42961","host":"192.168.100.227:5000","method":"GET","useragent":"curl/7.38.0"},"actor":{},"source":{"addr":"xtal.local:5000","instanceID":"a53db899-3b4b-4a62-a067-8dd013beaca4"}}]}
            """
        let line2 = """
            {"events":[{"id":"e2","timestamp":"2026-11-01T10:00:00Z","action":"push","target":{"digest":"sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf","repository":"team/app"}},{"id":"e3","timestamp":"2026-11-01T10:00:00Z","action":"unknown","target":{"repository":"x"}}]}
            """
        let events = try RegistryEvent.decode(Array((line1 + "\n" + line2 + "\n").utf8), file: "events.log")
        #expect(events.count == 2)
        #expect(events[0].action == .pull && events[0].repository == "hello-world" && events[0].tag == "latest")
        #expect(events[0].timestamp == Date(timeIntervalSince1970: 1_457_563_466))
        #expect(events[1].action == .push && events[1].tag == nil && events[1].repository == "team/app")
        #expect(throws: FathomError.self) { try RegistryEvent.decode(Array("{\"events\": [}\nnot json\n".utf8), file: "bad.log") }
    }

    /// An event fathom cannot read is named, never dropped without a word; one without a
    /// timestamp, delivered to the webhook, happened when it came.
    @Test func unreadableRegistryEventsAreNamed() async throws {
        let envelope = """
            {"events":[
             {"id":"p1","action":"push","target":{"repository":"team/app","tag":"1"}},
             {"id":"p2","timestamp":"yesterday","action":"push","target":{"repository":"team/app","tag":"2"}},
             {"id":"p3","timestamp":"2026-11-01T10:00:00Z","action":"delete","target":{"repository":"team/app","digest":"sha256:nothex"}},
             {"id":"p4","timestamp":"2026-11-01T10:00:00Z","action":"pull","target":{"tag":"1"}},
             {"id":"p5","timestamp":"2026-11-01T10:00:00Z","action":"unknown","target":{"repository":"team/app"}}]}
            """
        let fromFile = try RegistryEvent.read(Array(envelope.utf8), file: "events.json", receivedAt: nil)
        #expect(fromFile.events.isEmpty)
        #expect(
            fromFile.unreadable == [
                "the push event 'p1' of team/app: no timestamp",
                "the push event 'p2' of team/app: timestamp 'yesterday' is not RFC 3339",
                "the delete event 'p3' of team/app: target.digest 'sha256:nothex' is not a digest",
                "the pull event 'p4': no target.repository",
            ])
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let delivered = try RegistryEvent.read(Array(envelope.utf8), file: "webhook delivery", receivedAt: now)
        #expect(delivered.events.map(\.id) == ["p1"])
        #expect(delivered.events.allSatisfy { $0.timestamp == now })
        #expect(delivered.unreadable.count == 3)
        // One without an id or a timestamp is the same event however often it is delivered.
        let bare = Array(#"{"events":[{"action":"push","target":{"repository":"team/app","tag":"1"}}]}"#.utf8)
        let first = try RegistryEvent.read(bare, file: "webhook delivery", receivedAt: now).events.map(\.id)
        let again = try RegistryEvent.read(bare, file: "webhook delivery", receivedAt: now.addingTimeInterval(60)).events.map(\.id)
        #expect(first.count == 1 && first == again)
    }

    /// A store written before a distribution's record of one CVE was reported by that CVE knows
    /// musl's finding by the secdb record's id; the next scan, which names it CVE-2019-14697,
    /// calls it neither new nor resolved (the record's id is its first alias and among `merged`).
    @Test func aFindingNamedByItsCVEIsTheRecordItWasNamedByBefore() throws {
        var index = AdvisoryIndex()
        let path = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        index.add(try AdvisoryImport.alpineSecdb(Array(try Data(contentsOf: URL(fileURLWithPath: path))), file: path), source: "alpine-secdb")
        let musl = Package(ecosystem: "apk", name: "musl", version: "1.1.18-r3", source: .init(name: "musl", version: "1.1.18-r3"), path: "lib/apk/db/installed")
        let findings = ImageMatcher.findings([InventoryEntry(package: musl, layer: 0)], osNamespace: "Alpine:v3.7", index: index)
        let found = try #require(findings.first { $0.fixedVersion == "1.1.18-r4" }, "\(findings.map(\.id))")
        let record = "ALPINE-v3.7-musl-CVE-2019-14697"
        #expect(found.id == "CVE-2019-14697" && found.aliases.first == record && found.merged == [record], "\(found.id) \(found.aliases) \(found.merged ?? [])")
        let image = ImageRecord(manifestDigest: Digest.sha256(of: [1]), configDigest: Digest.sha256(of: [2]), created: nil, platform: nil, layers: [])
        var before = StoredFinding(found)
        before.id = record
        let previous = PreviousScan(scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest, findings: [before])
        let changes = ScanChanges(previous: previous, current: image, findings: findings.map(StoredFinding.init), aliasKeys: StoredFinding.aliasKeys(of: findings))
        #expect(changes.new.isEmpty && changes.resolved.isEmpty && changes.unchanged == findings.count, "\(changes.new.map(\.id)) \(changes.resolved.map(\.id))")
        // Without the record among `merged`, it would read as one new and one resolved: the test can fail.
        let unaware = ScanChanges(previous: previous, current: image, findings: findings.map(StoredFinding.init))
        #expect(unaware.resolved.map(\.id) == [record])
    }

    @Test func changesCompareFindingsByAdvisoryAndPackage() async throws {
        func finding(_ id: String, _ package: String, _ version: String) -> StoredFinding {
            StoredFinding(id: id, ecosystem: "apk", package: package, installedVersion: version, fixedVersion: "2", severity: "HIGH")
        }
        let image = ImageRecord(manifestDigest: Digest.sha256(of: [1]), configDigest: Digest.sha256(of: [2]), created: nil, platform: nil, layers: [])
        let previous = PreviousScan(
            scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest,
            findings: [finding("CVE-1", "musl", "1"), finding("CVE-2", "zlib", "1")])
        let changes = ScanChanges(
            previous: previous, current: image, findings: [finding("CVE-2", "zlib", "1.1"), finding("CVE-3", "musl", "1")])
        #expect(changes.new.map(\.id) == ["CVE-3"])
        #expect(changes.resolved.map(\.id) == ["CVE-1"])
        #expect(changes.unchanged == 1)
        #expect(!changes.imageChanged)
        // A vulnerability the previous scan knew by another name (PyPA's id, before the GHSA
        // record that carries it as an alias was merged with it) is neither new nor resolved.
        let renamed = ScanChanges(
            previous: previous, current: image, findings: [finding("GHSA-1", "musl", "1"), finding("CVE-2", "zlib", "1")],
            aliasKeys: [finding("GHSA-1", "musl", "1").key: [finding("CVE-1", "musl", "1").key]])
        #expect(renamed.new.isEmpty && renamed.resolved.isEmpty && renamed.unchanged == 2)
        // An alias in another package is another finding.
        let elsewhere = ScanChanges(
            previous: previous, current: image, findings: [finding("GHSA-1", "musl", "1")],
            aliasKeys: [finding("GHSA-1", "musl", "1").key: [finding("CVE-2", "musl", "1").key]])
        #expect(elsewhere.new.map(\.id) == ["GHSA-1"] && elsewhere.resolved.map(\.id) == ["CVE-1", "CVE-2"])
        // A second copy of a package with a finding the first has (minimist 1.2.5 beside 0.0.8) is
        // a new finding: counted one for one, every finding is new, resolved or unchanged once.
        let copies = ScanChanges(
            previous: previous, current: image, findings: [finding("CVE-1", "musl", "1"), finding("CVE-1", "musl", "0.9"), finding("CVE-2", "zlib", "1")])
        #expect(copies.new.map { "\($0.id) \($0.installedVersion)" } == ["CVE-1 0.9"] && copies.resolved.isEmpty && copies.unchanged == 2)
        let oneLess = ScanChanges(previous: PreviousScan(
            scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest,
            findings: [finding("CVE-1", "musl", "1"), finding("CVE-1", "musl", "0.9")]), current: image, findings: [finding("CVE-1", "musl", "1")])
        #expect(oneLess.new.isEmpty && oneLess.resolved.map { "\($0.id) \($0.installedVersion)" } == ["CVE-1 0.9"] && oneLess.unchanged == 1)
        // Two copies at one version (in two node_modules) are told apart by their paths: the
        // copy added is the new one, and the table names it.
        func npm(_ path: String) -> StoredFinding {
            StoredFinding(id: "GHSA-m", ecosystem: "npm", package: "minimist", installedVersion: "1.2.5", fixedVersion: "1.2.6", severity: "CRITICAL", path: path)
        }
        let (a, b) = (npm("app/node_modules/minimist/package.json"), npm("tool/node_modules/minimist/package.json"))
        let samePaths = ScanChanges(
            previous: PreviousScan(scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest, findings: [b]),
            current: image, findings: [a, b])
        #expect(samePaths.new == [a] && samePaths.resolved.isEmpty && samePaths.unchanged == 1)
        // A fix that moved (r4 to r5) is said, the finding still unchanged.
        var refixed = finding("CVE-1", "musl", "1")
        refixed.fixedVersion = "3"
        let moved = ScanChanges(previous: previous, current: image, findings: [refixed, finding("CVE-2", "zlib", "1")])
        #expect(moved.new.isEmpty && moved.resolved.isEmpty && moved.unchanged == 2)
        #expect(moved.fixChanged?.map { "\($0.id) \($0.previousFixedVersion ?? "-") \($0.fixedVersion ?? "-")" } == ["CVE-1 2 3"])
        #expect(changes.fixChanged == nil)
        #expect(changes.resolved.allSatisfy { $0.resolution == nil }, "not told without what is installed")
        // Why each is resolved, from the packages installed now: musl upgraded (the fix
        // confirmed, from what to what), zlib gone, and busybox at the same version (the
        // advisory data no longer names it).
        let before = PreviousScan(
            scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest,
            findings: [finding("CVE-1", "musl", "1"), finding("CVE-2", "zlib", "1"), finding("CVE-4", "busybox", "1")])
        let installed = ["musl": ["2"], "busybox": ["1"]]
        let why = ScanChanges(previous: before, current: image, findings: [], installed: { installed[$0.package] ?? [] })
        #expect(why.resolved.map { "\($0.package) \($0.resolution?.rawValue ?? "-") \($0.currentVersion ?? "-")" }
            == ["musl upgraded 2", "zlib removed -", "busybox advisory -"])
        let first = ScanChanges(previous: nil, current: image, findings: [finding("CVE-1", "musl", "1")])
        #expect(first.new.isEmpty && first.resolved.isEmpty && first.previousScannedAt == nil)
        // The history's own encoding keeps every field, an absent fix included.
        let stored = [finding("CVE-1", "musl", "1.1.18-r3"), StoredFinding(
            id: "GHSA-x", ecosystem: "PyPI", package: "requests", installedVersion: "2.19.1", fixedVersion: nil, severity: "UNKNOWN"), a]
        #expect(StoredFinding.decode(StoredFinding.encode(stored)) == stored)
        // An OS finding (no path) encodes as scans stored it before paths were kept.
        #expect(String(decoding: StoredFinding.encode([stored[0]]), as: UTF8.self) == "CVE-1\tapk\tmusl\t1.1.18-r3\t2\tHIGH\n")
    }

    /// What the matcher merged, and only that, joins a finding to the previous scan's by
    /// another feed's id: one CVE's PYSEC and GHSA records are one finding, known before by
    /// either id; two CVEs' records that both name one GHSA (as PyPA's PYSEC-2021-335 and -370
    /// name GHSA-qcx9-j53g-ccgf) stay apart, and are new although that GHSA was known.
    @Test func changesKnowAFindingByTheRecordsMergedIntoIt() throws {
        func record(_ id: String, aliases: [String]) throws -> OSVRecord {
            let json = #"{"id": "\#(id)", "modified": "2024-01-01T00:00:00Z", "aliases": \#(aliases), "affected": [{"package": {"ecosystem": "PyPI", "name": "app"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2"}]}]}]}"#
            return try AdvisoryImport.osv(Array(json.utf8), file: id)
        }
        var index = AdvisoryIndex()
        index.add([try record("PYSEC-1", aliases: ["CVE-1"]), try record("PYSEC-A", aliases: ["CVE-A", "GHSA-Q"]),
                   try record("PYSEC-B", aliases: ["CVE-B", "GHSA-Q"])], source: "pypa")
        index.add([try record("GHSA-1", aliases: ["CVE-1"]), try record("GHSA-Q", aliases: [])], source: "ghsa")
        let app = Package(ecosystem: "pypi", name: "app", version: "1", path: "app.dist-info/METADATA")
        let findings = ImageMatcher.findings([InventoryEntry(package: app, layer: 0)], osNamespace: nil, index: index)
        #expect(findings.map(\.id).sorted() == ["GHSA-1", "GHSA-Q", "PYSEC-A", "PYSEC-B"], "\(findings.map(\.id))")
        #expect(findings.first { $0.id == "GHSA-1" }?.merged == ["PYSEC-1"])
        #expect(findings.first { $0.id == "PYSEC-A" }?.merged == nil)

        let image = ImageRecord(manifestDigest: Digest.sha256(of: [1]), configDigest: Digest.sha256(of: [2]), created: nil, platform: nil, layers: [])
        let known = ["PYSEC-1", "GHSA-Q"].map { StoredFinding(id: $0, ecosystem: "pypi", package: "app", installedVersion: "1", fixedVersion: "2", severity: "UNKNOWN") }
        let previous = PreviousScan(scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest, findings: known)
        let changes = ScanChanges(
            previous: previous, current: image, findings: findings.map(StoredFinding.init), aliasKeys: StoredFinding.aliasKeys(of: findings))
        #expect(changes.new.map(\.id) == ["PYSEC-A", "PYSEC-B"], "\(changes.new.map(\.id))")
        #expect(changes.resolved.isEmpty, "\(changes.resolved.map(\.id))")
        #expect(changes.unchanged == 2)
        // Both ids found before, one merged into the other now: the merged one is not resolved.
        let both = ["PYSEC-1", "GHSA-1"].map { StoredFinding(id: $0, ecosystem: "pypi", package: "app", installedVersion: "1", fixedVersion: "2", severity: "UNKNOWN") }
        let joined = ScanChanges(
            previous: PreviousScan(scannedAt: Date(timeIntervalSince1970: 0), imageKey: image.key, manifestDigest: image.manifestDigest, findings: both),
            current: image, findings: [both[1]], aliasKeys: [both[1].key: [both[0].key]])
        #expect(joined.new.isEmpty && joined.resolved.isEmpty && joined.unchanged == 1, "\(joined.resolved.map(\.id))")
    }

    @Test func repositoryAndTagGlobs() {
        #expect(RegistryListing.matches("team/app", anyOf: []))
        #expect(RegistryListing.matches("team/app", anyOf: ["team/*"]))
        #expect(RegistryListing.matches("team/sub/app", anyOf: ["team/*"]))  // `*` crosses `/`, as the help says
        #expect(!RegistryListing.matches("other/app", anyOf: ["team/*"]))
        #expect(RegistryListing.matches("v1.2.3", anyOf: ["v2*", "v1.*"]))
        #expect(!RegistryListing.matches("v10", anyOf: ["v1.*"]))
        #expect(RegistryListing.matches("app-03", anyOf: ["app-0[0-4]"]))
    }

    /// An image whose source cannot be read, as a class, so that the test can see it go.
    final class UnreadableImage: ImageSource {
        let displayName = "unreadable"
        func resolve(platform: Platform) async throws -> ResolvedImage { throw FathomError(.io, "unreadable on purpose") }
        func withLayer<Result>(_ layer: ImageLayer, _ body: (ByteStream) async throws -> Result) async throws -> Result {
            throw FathomError(.io, "unreadable on purpose")
        }
    }

    /// An image's deadline (`--image-timeout`) ends with the image: a finished image is not kept
    /// until the deadline (it was, for every image of a run: 358 MB more for 10,000 tags under 1h).
    @Test func aFinishedImageIsNotKeptUntilItsDeadline() async throws {
        let fleet = FleetScanner(
            scanner: ImageScanner(), history: nil, index: AdvisoryIndex(), advisoryVersion: "none", imageTimeout: .seconds(3600))
        weak var held: UnreadableImage?
        do {
            let source = UnreadableImage()
            held = source
            let outcome = await fleet.scan(FleetJob(name: "unreadable", source: source))
            guard case .failed = outcome else {
                Issue.record("an unreadable image is a failure: \(outcome)")
                return
            }
        }
        let limit = ContinuousClock.now.advanced(by: .seconds(10))
        while held != nil, ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(50)) }
        #expect(held == nil, "the image is still held an hour before its deadline")
    }
}
