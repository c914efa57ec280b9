import FathomAdvisory
import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomSQLite
import FathomStore
import FathomTestSupport
import Foundation
import Testing
import FathomSQLiteStore

/// The fleet pipeline against the real registry: layer dedup counted from the registry's own
/// access log, concurrent scans, a damaged layer, rescans without downloads, confirmation of
/// a fix, a killed run, and the push/pull-time policies.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FleetTests {
    let fixture: FleetFixture

    init() async throws { fixture = try await FleetFixture.shared.value }

    func newStore() async throws -> (SQLiteStore, String) {
        let path = try Fixtures.temporaryDirectory("fleet-store") + "/fathom.db"
        return (try await SQLiteStore.open(path: path), path)
    }

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, environment: Fixtures.isolatedEnvironment, check: false)
    }

    /// Scans the repositories the globs select, with a fresh client.
    func runFleet(
        _ repositories: [String], store: SQLiteStore, imageConcurrency: Int = 20, layerConcurrency: Int = 2
    ) async throws -> [FleetOutcome] {
        let client = try RegistryClient(
            configuration: RegistryClientConfiguration(credentials: .anonymous, maxAttempts: 2, baseBackoff: .milliseconds(20)))
        let fleet = FleetScanner(
            scanner: ImageScanner(layerConcurrency: layerConcurrency, cache: LayerCache(store: store)), history: store,
            index: try await store.advisories(), advisoryVersion: try await store.advisoryVersion(), imageConcurrency: imageConcurrency)
        var outcomes: [FleetOutcome] = []
        do {
            try await fleet.run(RegistryListing(registry: fixture.registry.host, client: client, repositories: repositories, documents: store)) {
                outcomes.append($0)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return outcomes.sorted { $0.name < $1.name }
    }

    func scanned(_ outcomes: [FleetOutcome]) -> [MatchedImage] {
        outcomes.compactMap { if case .scanned(let report) = $0 { report } else { nil } }
    }

    @Test func twoImagesSharingABaseFetchItOnce() async throws {
        let (store, _) = try await newStore()
        let apps = Array(fixture.apps.prefix(2))
        let digests = Array(Set(apps.flatMap(\.layers)))
        let before = fixture.blobGETs(digests)
        let outcomes = try await runFleet(apps.map(\.repository), store: store)
        #expect(scanned(outcomes).count == 2, "\(outcomes)")
        let after = fixture.blobGETs(digests)
        for digest in digests { #expect(after[digest]! - before[digest]! == 1, "\(digest)") }
        #expect(Set(try await store.layerDigests().map(\.description)) == Set(digests))

        // Again with the same store: no blob is fetched at all (layers and configs are known).
        let allBlobs = fixture.registry.blobGETCount()
        let again = try await runFleet(apps.map(\.repository), store: store)
        #expect(fixture.registry.blobGETCount() == allBlobs)
        #expect(scanned(again).count == 2)
        #expect(scanned(again).allSatisfy { $0.result?.layersFetched == 0 })
        #expect(fixture.blobGETs(digests) == after)
    }

    /// Store work runs on threads of its own: while another connection holds the store's write
    /// lock (as a second fathom process or a slow disk would), images are still read and
    /// matched; only recording waits (scans are written behind, in batches), and the run
    /// completes, every scan stored, once the lock is released.
    @Test func aBlockedStoreWriterDoesNotStopReadingAndMatching() async throws {
        let (store, path) = try await newStore()
        let apps = Array(fixture.apps.prefix(6))
        let blocker = try SQLiteConnection(path: path)
        try blocker.execute("BEGIN IMMEDIATE")
        let client = try RegistryClient(configuration: RegistryClientConfiguration(credentials: .anonymous, maxAttempts: 2))
        let fleet = FleetScanner(
            scanner: ImageScanner(layerConcurrency: 2, cache: LayerCache(store: store)), history: store,
            index: try await store.advisories(), advisoryVersion: try await store.advisoryVersion())
        let listing = RegistryListing(
            registry: fixture.registry.host, client: client, repositories: apps.map(\.repository), documents: store)
        let run = Task {
            var outcomes: [FleetOutcome] = []
            try await fleet.run(listing) { outcomes.append($0) }
            return outcomes
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while fleet.progress.snapshot.matched < apps.count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let during = fleet.progress.snapshot
        let recordedDuring = try await store.scannedNames()
        try blocker.execute("ROLLBACK")
        let outcomes = try await run.value
        try await client.shutdown()
        #expect(during.matched == apps.count, "images read and matched while the writer was blocked")
        #expect(during.layersFetched > 0)
        #expect(recordedDuring.isEmpty, "no scan could be recorded while the lock was held")
        #expect(scanned(outcomes).count == apps.count, "\(outcomes)")
        #expect(try await store.scannedNames().count == apps.count)
        #expect(Set(try await store.layerDigests().map(\.description)) == Set(apps.flatMap(\.layers)))
    }

    @Test func twentyConcurrentScansFetchEachLayerOnce() async throws {
        let (store, _) = try await newStore()
        _ = try await store.importAdvisories(try await FeedReader.read(fixture.secdb).records, source: "alpine-secdb-v3.7-main")
        let digests = Array(Set(fixture.apps.flatMap(\.layers)))
        let before = fixture.blobGETs(digests)
        let outcomes = try await runFleet(["apps/*"], store: store, imageConcurrency: 20)
        let reports = scanned(outcomes)
        #expect(reports.count == 20, "\(outcomes)")
        let after = fixture.blobGETs(digests)
        for digest in digests { #expect(after[digest]! - before[digest]! == 1, "\(digest) fetched \(after[digest]! - before[digest]!) times") }
        #expect(reports.reduce(0) { $0 + ($1.result?.layersFetched ?? 0) } == digests.count)
        // Every image has the base's musl finding, found through the shared facts.
        for report in reports {
            #expect(report.findings.contains { $0.id == "CVE-2019-14697" && $0.package == "musl" }, "\(report.name)")
        }
    }

    @Test func aCorruptLayerFailsOnlyTheImagesThatUseIt() async throws {
        let (store, _) = try await newStore()
        let before = fixture.blobGETs([fixture.brokenLayer])
        let outcomes = try await runFleet(["broken/*", "apps/app-0[0-3]"], store: store)
        #expect(scanned(outcomes).map(\.name) == (0..<4).map { fixture.name(String(format: "apps/app-%02d", $0)) })
        var failed: [String: FathomError] = [:]
        for case .failed(let name, let error) in outcomes { failed[name] = error }
        #expect(Set(failed.keys) == [fixture.name("broken/one"), fixture.name("broken/two")])
        for (name, error) in failed {
            #expect(error.code == .digestMismatch, "\(error)")
            #expect(error.layer == fixture.brokenLayer)
            #expect(error.image == name)
            #expect("\(error)".contains(fixture.brokenLayer))
        }
        // Read `blobAttempts` times for both images (a damaged body is read again, in case the
        // damage was in transit; the failure is shared, not retried per image), and nothing
        // about it was stored.
        #expect(fixture.blobGETs([fixture.brokenLayer])[fixture.brokenLayer]! - before[fixture.brokenLayer]! == RegistryClientConfiguration().blobAttempts)
        #expect(!(try await store.layerDigests().map(\.description)).contains(fixture.brokenLayer))
        #expect((try await store.layerDigests().map(\.description)).contains(fixture.baseLayer))
    }

    @Test func rescanAfterANewAdvisoryReportsItForExactlyTheImagesWithThePackage() async throws {
        let store = try Fixtures.temporaryDirectory("rescan") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, fixture.secdb]).status == 0)
        let reports = try Fixtures.temporaryDirectory("reports")
        let scan = try await fathom(
            ["registry", fixture.registry.host, "--repo", "apps/*", "--store", store, "--format", "json", "--quiet", "--output", reports])
        #expect(scan.status == 0, "\(scan.errorText)")
        let summary = try JSONSerialization.jsonObject(with: scan.stdout) as! [String: Any]
        #expect((summary["images"] as! [String: Int])["scanned"] == 20)
        #expect((summary["bytes"] as! [String: Any])["fetched"] as? Int == (summary["bytes"] as! [String: Any])["distinct"] as? Int)
        // Only Alpine data is in the store yet: the images holding requests had their PyPI
        // packages unchecked, and the summary says so, by namespace.
        let imagesWithRequests = fixture.apps.filter(\.hasRequests).count
        #expect(imagesWithRequests > 0)
        #expect(summary["missingData"] as? [String: Int] == ["PyPI": imagesWithRequests])
        #expect((summary["warnings"] as? [String])?.isEmpty == true)
        let aged = try await fathom(
            ["registry", fixture.registry.host, "--repo", "apps/app-00", "--store", store, "--format", "json", "--quiet", "--max-db-age", "0s"])
        let agedSummary = try JSONSerialization.jsonObject(with: aged.stdout) as! [String: Any]
        #expect((agedSummary["warnings"] as? [String])?.first?.hasPrefix("advisory data older than --max-db-age 0s") == true)
        // One report per image, each the document `fathom scan --format json` prints.
        let files = try FileManager.default.contentsOfDirectory(atPath: reports).sorted()
        #expect(files.count == 20)
        for file in files {
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reports + "/" + file))) as! [String: Any]
            let name = (report["artifact"] as! [String: Any])["name"] as! String
            #expect(file == name.map { "/:@".contains($0) ? "_" : String($0) }.joined() + ".json")
            #expect((report["vulnerabilities"] as! [[String: Any]]).contains { $0["package"] as? String == "musl" })
        }

        let blobsBefore = fixture.registry.blobGETCount()
        let imported = try await fathom(["db", "import", "--store", store, fixture.pypi])
        #expect(imported.status == 0, "\(imported.errorText)")
        let rescan = try await fathom(["rescan", "--store", store, "--format", "json", "--quiet"])
        #expect(rescan.status == 0, "\(rescan.errorText)")
        #expect(fixture.registry.blobGETCount() == blobsBefore, "a rescan downloaded blobs")
        let report = try JSONSerialization.jsonObject(with: rescan.stdout) as! [String: Any]
        let changed = report["changed"] as! [[String: Any]]
        let withRequests = Set(fixture.apps.filter(\.hasRequests).map { fixture.name($0.repository) })
        #expect(Set(changed.map { $0["name"] as! String }) == withRequests)
        for image in changed {
            let new = image["new"] as! [[String: Any]]
            #expect(new.contains { $0["id"] as? String == "PYSEC-2018-28" && $0["package"] as? String == "requests" })
            #expect(new.allSatisfy { $0["package"] as? String == "requests" })
            #expect((image["resolved"] as! [Any]).isEmpty)
            #expect(image["moved"] as? Bool == false)
        }
        #expect(report["images"] as? Int == 20)

        // Nothing changed since: a rescan of what the new data did not reach is empty.
        let since = try await fathom(["rescan", "--since-db-change", "--store", store, "--format", "json", "--quiet"])
        #expect(since.status == 0)
        #expect((try JSONSerialization.jsonObject(with: since.stdout) as! [String: Any])["images"] as? Int == 0)
    }

    @Test func repushingAFixedImageReportsTheFindingResolved() async throws {
        let store = try Fixtures.temporaryDirectory("fix") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, fixture.secdb]).status == 0)
        let name = fixture.name("fixed/app")
        let first = try await fathom(["scan", name, "--store", store, "--format", "json"])
        #expect(first.status == 0, "\(first.errorText)")
        let before = try JSONSerialization.jsonObject(with: first.stdout) as! [String: Any]
        #expect((before["vulnerabilities"] as! [[String: Any]]).contains { $0["package"] as? String == "musl" })
        #expect(before["changes"] == nil)

        try await fixture.registry.push("oci:\(fixture.fixedLayout):fixed", to: "fixed/app", tag: "1")
        let second = try await fathom(["scan", name, "--store", store, "--format", "json"])
        #expect(second.status == 0, "\(second.errorText)")
        let after = try JSONSerialization.jsonObject(with: second.stdout) as! [String: Any]
        #expect(!(after["vulnerabilities"] as! [[String: Any]]).contains { ($0["package"] as? String)?.hasPrefix("musl") == true })
        let changes = try #require(after["changes"] as? [String: Any])
        #expect(changes["imageChanged"] as? Bool == true)
        let resolved = changes["resolved"] as! [[String: Any]]
        #expect(Set(resolved.map { "\($0["id"]!) \($0["package"]!)" })
            == ["CVE-2019-14697 musl", "CVE-2019-14697 musl-utils"])
        // Each says why: upgraded, to the version the new layer's apk database holds.
        #expect(resolved.allSatisfy { $0["resolution"] as? String == "upgraded" && $0["currentVersion"] as? String == "1.1.18-r4" }, "\(resolved)")
        #expect((changes["new"] as! [Any]).isEmpty)

        let table = try await fathom(["scan", name, "--store", store])
        #expect(table.text.contains("Since the previous scan"))
        #expect(table.text.contains("0 new, 0 resolved"))
    }

    /// A tag deleted from the registry (no webhook told fathom) is found gone by the rescan's
    /// check, by the registry's own MANIFEST_UNKNOWN, and taken out of the store: reported as
    /// removed, not as a failure, and not rescanned again. The other tag stays.
    @Test func rescanTakesADeletedTagOutOfTheStore() async throws {
        let store = try Fixtures.temporaryDirectory("deleted") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, fixture.secdb]).status == 0)
        try await fixture.registry.push("oci:\(fixture.fixedLayout):fixed-before", to: "gone/app", tag: "1")
        try await fixture.registry.push("oci:\(fixture.fixedLayout):fixed", to: "gone/kept", tag: "1")
        let first = try await fathom(["registry", fixture.registry.host, "--repo", "gone/*", "--store", store, "--quiet"])
        #expect(first.status == 0, "\(first.errorText)")

        try await Tool.run(["skopeo", "delete", "--tls-verify=false", "docker://\(fixture.name("gone/app"))"])
        let rescan = try await fathom(["rescan", "--store", store, "--format", "json", "--quiet"])
        #expect(rescan.status == 0, "\(rescan.errorText)")
        let report = try JSONSerialization.jsonObject(with: rescan.stdout) as! [String: Any]
        #expect(report["removed"] as? [String] == [fixture.name("gone/app")])
        #expect(report["failed"] as? Int == 0 && (report["failures"] as? [Any])?.isEmpty == true, "\(report)")
        #expect((report["warnings"] as? [String])?.isEmpty == true, "\(report)")
        let again = try await fathom(["rescan", "--store", store])
        #expect(again.status == 0, "\(again.errorText)")
        #expect(again.text.contains("Rescanned 1 images") && !again.text.contains("gone/app"), "\(again.text)")

        // The registry's delete event, from a webhook log: `events import` takes the tag out too
        // (once: the same log imported again removes nothing).
        let events = try Fixtures.temporaryDirectory("delete-events") + "/events.json"
        try """
            {"events": [{"id": "delete-kept", "timestamp": "2026-12-01T10:00:00.000000000Z", "action": "delete",
              "target": {"repository": "gone/kept", "tag": "1"}, "request": {"host": "\(fixture.registry.host)"}}]}
            """.write(toFile: events, atomically: true, encoding: .utf8)
        let imported = try await fathom(["events", "import", "--store", store, events])
        #expect(imported.status == 0 && imported.text.contains("removed \(fixture.name("gone/kept"))"), "\(imported.text) \(imported.errorText)")
        #expect(try await fathom(["events", "import", "--store", store, events]).text.contains("1 events, 0 new\n"))
        let empty = try await fathom(["rescan", "--store", store])
        #expect(empty.status != 0 && empty.errorText.contains("holds no scans to rescan"), "\(empty.text) \(empty.errorText)")
    }

    @Test func rescanScansAMovedTagReadingOnlyItsNewLayer() async throws {
        let store = try Fixtures.temporaryDirectory("moved") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, fixture.secdb]).status == 0)
        try await fixture.registry.push("oci:\(fixture.fixedLayout):fixed-before", to: "moved/app", tag: "1")
        let first = try await fathom(["registry", fixture.registry.host, "--repo", "moved/*", "--store", store, "--quiet"])
        #expect(first.status == 0, "\(first.errorText)")

        try await fixture.registry.push("oci:\(fixture.fixedLayout):fixed", to: "moved/app", tag: "1")
        let linesBefore = fixture.registry.logLines().count
        let headsBefore = fixture.registry.logLines().filter { $0.contains("\"HEAD /v2/moved/app/manifests/1") }.count
        let rescan = try await fathom(["rescan", "--store", store, "--format", "json", "--quiet"])
        #expect(rescan.status == 0, "\(rescan.errorText)")
        let report = try JSONSerialization.jsonObject(with: rescan.stdout) as! [String: Any]
        let changed = report["changed"] as! [[String: Any]]
        #expect(changed.count == 1)
        #expect(changed.first?["name"] as? String == fixture.name("moved/app"))
        #expect(changed.first?["moved"] as? Bool == true)
        let resolved = (changed.first?["resolved"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!)" }
        #expect(Set(resolved) == ["CVE-2019-14697 musl", "CVE-2019-14697 musl-utils"])
        #expect((changed.first?["resolved"] as? [[String: Any]] ?? []).allSatisfy { $0["resolution"] as? String == "upgraded" })
        #expect(report["moved"] as? Int == 1)
        // The tag was checked with a HEAD; only the new image's config and its new layer were
        // downloaded (the base layer's facts were in the store).
        #expect(fixture.registry.logLines().filter { $0.contains("\"HEAD /v2/moved/app/manifests/1") }.count == headsBefore + 1)
        // Counted for this repository and by digest: the registry is shared with the suite's other
        // tests, and a GET retried under load is still one blob read.
        let fetched = Set(fixture.registry.logLines().dropFirst(linesBefore).compactMap { line in
            line.firstMatch(of: /"GET \/v2\/moved\/app\/blobs\/(sha256:[0-9a-f]{64})/).map { String($0.1) }
        })
        #expect(fetched.count == 2, "\(fetched)")
    }

    @Test func aKilledScanLeavesAStoreTheNextRunUses() async throws {
        // A slow registry (each blob GET delayed) makes the run long enough to kill mid-fleet.
        let proxy = try await FaultProxy(upstream: fixture.registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.milliseconds(400)), pathContains: "/blobs/", times: 1000)
        let directory = try Fixtures.temporaryDirectory("killed")
        let storePath = directory + "/fathom.db"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.fathomExecutable)
        process.arguments = [
            "registry", proxy.host, "--repo", "apps/*", "--store", storePath, "--quiet", "--concurrency", "2",
            "--layer-concurrency", "1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var stored: [Digest] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if FileManager.default.fileExists(atPath: storePath), let digests = try? await SQLiteStore.open(path: storePath).layerDigests(),
                digests.count >= 3
            {
                stored = digests
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(process.isRunning, "the run ended before it could be killed")
        kill(process.processIdentifier, SIGKILL)
        await process.exited()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(stored.count >= 3)

        // The next run opens the store without errors and fetches none of the stored layers.
        let before = fixture.blobGETs(stored.map(\.description))
        let store = try await SQLiteStore.open(path: storePath)
        let storedNow = try await store.layerDigests()
        #expect(Set(stored).isSubset(of: Set(storedNow)))
        let outcomes = try await runFleet(["apps/*"], store: store)
        #expect(scanned(outcomes).count == 20, "\(outcomes)")
        let after = fixture.blobGETs(storedNow.map(\.description))
        for digest in storedNow.map(\.description) {
            #expect(after[digest] == (before[digest] ?? after[digest]), "\(digest) was fetched again")
        }
    }

    /// A glob that matches nothing is an error, not "0 scanned" with exit 0.
    @Test func aGlobThatMatchesNothingFails() async throws {
        let store = try Fixtures.temporaryDirectory("no-match") + "/fathom.db"
        let typo = try await fathom(["registry", fixture.registry.host, "--repo", "aps/*", "--store", store, "--quiet"])
        #expect(typo.status == 1)
        #expect(typo.errorText.contains("--repo 'aps/*' selected no image in \(fixture.registry.host)"))
        let tag = try await fathom(["registry", fixture.registry.host, "--repo", "apps/*", "--tag", "v9*", "--store", store, "--quiet"])
        #expect(tag.status == 1)
        #expect(tag.errorText.contains("--repo 'apps/*' --tag 'v9*' selected no image"))
    }

    @Test func pushAndPullTimePoliciesUseTheStoredEvents() async throws {
        let directory = try Fixtures.temporaryDirectory("events")
        let store = directory + "/fathom.db"
        let now = Date()
        func stamp(_ daysAgo: Double) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            // The registry writes nanoseconds; so does this file.
            return formatter.string(from: now.addingTimeInterval(-daysAgo * 86400)).replacingOccurrences(of: "Z", with: ".123456789Z")
        }
        let app1Manifest = try await Tool.run(
            ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://\(fixture.name("apps/app-01"))"]
        ).text.trimmingCharacters(in: .whitespacesAndNewlines)
        func event(_ id: String, _ action: String, _ repository: String, tag: String? = nil, digest: String, at: String) -> String {
            let tagField = tag.map { ",\"tag\":\"\($0)\"" } ?? ""
            return """
                {"id":"\(id)","timestamp":"\(at)","action":"\(action)","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
                "size":500,"digest":"\(digest)","length":500,"repository":"\(repository)"\(tagField)},"request":{"method":"GET"},"actor":{}}
                """
        }
        let blobDigest = fixture.baseLayer
        let envelope = """
            {"events":[
            \(event("e1", "pull", "apps/app-00", tag: "1", digest: app1Manifest, at: stamp(1))),
            \(event("e2", "pull", "apps/app-01", digest: app1Manifest, at: stamp(2))),
            \(event("e3", "pull", "apps/app-02", tag: "1", digest: app1Manifest, at: stamp(60))),
            \(event("e4", "pull", "apps/app-04", digest: blobDigest, at: stamp(1))),
            \(event("e5", "push", "apps/app-03", tag: "1", digest: app1Manifest, at: stamp(0.5)))
            ]}
            """
        try envelope.write(toFile: directory + "/events.json", atomically: true, encoding: .utf8)
        let imported = try await fathom(["events", "import", "--store", store, directory + "/events.json"])
        #expect(imported.status == 0, "\(imported.errorText)")
        #expect(imported.text.contains("5 events, 5 new"))
        #expect(try await fathom(["events", "import", "--store", store, directory + "/events.json"]).text.contains("5 events, 0 new"))

        func selected(_ policy: [String]) async throws -> [String] {
            let output = try await fathom(
                ["registry", fixture.registry.host, "--repo", "apps/app-0[0-4]", "--store", store, "--format", "json", "--quiet", "--top", "50"]
                    + policy)
            #expect(output.status == 0, "\(output.errorText)")
            let summary = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
            let skipped = (summary["skipped"] as! [[String: Any]]).count
            #expect((summary["images"] as! [String: Int])["skipped"] == skipped)
            return (summary["mostAtRisk"] as! [[String: Any]]).map { $0["name"] as! String }.sorted()
        }
        // Pulled in the last 30 days: app-00 by tag, app-01 by digest; app-02 too long ago,
        // app-03 never, app-04 only a blob of it (not the image).
        #expect(try await selected(["--pulled-since", "30d"]) == [fixture.name("apps/app-00"), fixture.name("apps/app-01")])
        // Pushed in the last 30 days: app-03 by its push event; the others' configs say 2026-01-01.
        #expect(try await selected(["--pushed-since", "30d"]) == [fixture.name("apps/app-03")])
        #expect(try await selected(["--pushed-since", "2025-12-01T00:00:00Z"]).count == 5)
        #expect(try await selected(["--tag", "1"]).count == 5)
        // A tag glob that selects nothing is an error, not an empty success.
        let none = try await fathom(
            ["registry", fixture.registry.host, "--repo", "apps/app-0[0-4]", "--tag", "2*", "--store", store, "--format", "json", "--quiet"])
        #expect(none.status == 1)
        #expect(none.errorText.contains("selected no image"))
    }
}
