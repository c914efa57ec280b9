import FathomCore
import FathomTestSupport
import NIOHTTP1
import Foundation
import Testing

/// `fathom registry` and `fathom worker` killed with SIGKILL at random points, again and again
/// (20 times each, `FATHOM_CRASH_LOOPS` for more): the store is whole after every kill, and the
/// next run completes the fleet with nothing lost and nothing twice.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CrashLoopTests {
    static let loops = Int(ProcessInfo.processInfo.environment["FATHOM_CRASH_LOOPS"] ?? "") ?? 20

    /// A fleet of `count` images behind a proxy that slows every request, so a run lasts seconds.
    static func slowFleet(count: Int) async throws -> (LocalRegistry, FaultProxy) {
        let registry = try await LocalRegistry()
        try await FaultyFleetTests.pushFleet(to: registry, count: count)
        let proxy = try await FaultProxy(upstream: registry.host)
        proxy.inject(.delay(.milliseconds(40)), pathContains: "/v2/", times: 1_000_000)
        return (registry, proxy)
    }

    static func importAlpineAdvisories(_ store: String) async throws {
        for secdb in ["v3.7", "v3.10"] {
            let feed = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/\(secdb)/main.yaml").path
            try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, feed], environment: Fixtures.isolatedEnvironment)
        }
    }

    /// Each image's essence (OS, packages, findings) by `repository:tag`, from a directory of
    /// JSON reports or from report documents.
    static func essences(_ documents: [Data]) throws -> [String: String] {
        var result: [String: String] = [:]
        for document in documents {
            let report = try JSONSerialization.jsonObject(with: document) as! [String: Any]
            let name = (report["artifact"] as? [String: Any])?["name"] as? String ?? ""
            result[String(name.drop { $0 != "/" }.dropFirst())] = FaultyFleetTests.essence(report)
        }
        return result
    }

    static func reports(in directory: String) throws -> [Data] {
        try FileManager.default.contentsOfDirectory(atPath: directory).map { try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0)")) }
    }

    /// The reference: the fleet scanned straight from the registry, with nothing killed. Returns
    /// each image's essence and the store it wrote.
    static func cleanRun(of registry: LocalRegistry, in directory: String) async throws -> ([String: String], String) {
        let store = directory + "/clean.db"
        try await importAlpineAdvisories(store)
        try await Tool.run(
            [Fixtures.fathomExecutable, "registry", registry.host, "--store", store, "-f", "json", "-o", directory + "/clean"],
            environment: Fixtures.isolatedEnvironment)
        return (try essences(try reports(in: directory + "/clean")), store)
    }

    @Test func killingAFleetScanTwentyTimesLeavesAWholeStoreAndLosesNothing() async throws {
        let count = 30
        let (registry, proxy) = try await Self.slowFleet(count: count)
        defer { registry.stop(); proxy.stop() }
        let directory = try Fixtures.temporaryDirectory("crash-fleet")
        let started = ContinuousClock.now
        let (clean, cleanStore) = try await Self.cleanRun(of: registry, in: directory)
        #expect(clean.count == count)
        // Kills land anywhere in a run as long as the clean one took: on a loaded machine (the
        // whole suite beside it) a fixed 2.5 s window can end before the first layer is read.
        let window = max(2500, Int((ContinuousClock.now - started).components.seconds * 1000))

        let store = directory + "/fathom.db"
        try await Self.importAlpineAdvisories(store)
        var generator = SystemRandomNumberGenerator()
        var killedMidway = 0
        for loop in 0..<Self.loops {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fixtures.fathomExecutable)
            process.arguments = ["registry", proxy.host, "--store", store, "--quiet", "--concurrency", "2", "--layer-concurrency", "1"]
            process.environment = Fixtures.isolatedEnvironment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...window, using: &generator)))
            let wasRunning = process.isRunning
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            // After every kill: SQLite's own check of the file, and fathom opens it.
            let check = try await Self.sqlite(store, "PRAGMA integrity_check")
            #expect(check == "ok", "after kill \(loop): \(check)")
            #expect(try await Self.sqlite(store, "PRAGMA foreign_key_check") == "", "after kill \(loop)")
            let status = try await Tool.run([Fixtures.fathomExecutable, "db", "status", "--store", store], environment: Fixtures.isolatedEnvironment, check: false)
            #expect(status.status == 0, "after kill \(loop): \(status.errorText)")
            // Scans are written in batches; layer facts as each layer is read.
            if wasRunning, Int(try await Self.sqlite(store, "SELECT count(*) FROM layer_facts")) ?? 0 > 0 { killedMidway += 1 }
        }
        #expect(killedMidway > 0, "no kill landed while the fleet was being read")

        // The next run completes the fleet: every image, exactly as the clean run saw it.
        let final = try await Tool.run(
            [Fixtures.fathomExecutable, "registry", proxy.host, "--store", store, "-f", "json", "-o", directory + "/final"],
            environment: Fixtures.isolatedEnvironment, check: false)
        #expect(final.status == 0, "\(final.errorText.suffix(2000))")
        let finished = try Self.essences(try Self.reports(in: directory + "/final"))
        #expect(finished == clean)
        // One head per image, each pointing at a scan of it; no scan of an image the store lacks.
        #expect(try await Self.sqlite(store, "SELECT count(*) || ' ' || count(DISTINCT name) FROM heads") == "\(count) \(count)")
        #expect(try await Self.sqlite(store, Self.orphans) == "0")
        #expect(try await FaultyFleetTests.layerFacts(store) == FaultyFleetTests.layerFacts(cleanStore))
    }

    @Test func killingWorkersTwentyTimesLosesNoJobAndDoublesNoScan() async throws {
        let count = 12
        let (registry, proxy) = try await Self.slowFleet(count: count)
        defer { registry.stop(); proxy.stop() }
        let directory = try Fixtures.temporaryDirectory("crash-workers")
        let (clean, _) = try await Self.cleanRun(of: registry, in: directory)

        let database = try await LocalPostgres.shared.value.database("crashworkers")
        try await Self.importAlpineAdvisories(database)
        let service = try await ServiceTests.startService(workers: 0, store: database)
        defer { service.server.stop() }
        for index in 0..<count {
            let queued = try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(proxy.host)/fleet/app-\#(index):1"}"#)
            #expect(queued.status == 202)
        }
        var generator = SystemRandomNumberGenerator()
        var killedHolding = 0
        // Each lease that runs out uses an attempt (an image that kills every worker that reads
        // it is dead after its last): twenty kills in a row would spend the oldest jobs'
        // attempts, which is not what this test is about.
        let attempts = ["--max-attempts", "1000"]
        for loop in 0..<Self.loops {
            // Two jobs at a time (not the default 8 per loop), so the queue outlasts the first
            // workers and the kills find jobs held.
            let worker = try ServiceTests.startWorker(
                "worker-\(loop)", service: service, registry: proxy.host, arguments: ["--workers", "2", "--batch", "1"] + attempts)
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...1500, using: &generator)))
            // Killed once it holds a job, or after 10 s more (a machine running other suites may
            // start it late: 3 s once let every kill miss), or at once when none is left to take.
            for _ in 0..<100 {
                let running = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/jobs?state=running").body)
                if (running as? [[String: Any]])?.contains(where: { ($0["worker"] as? String)?.contains("/\(worker.processIdentifier)/") == true }) == true {
                    killedHolding += 1
                    break
                }
                let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
                if summary?["queued"] == 0 && summary?["running"] == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            kill(worker.processIdentifier, SIGKILL)
            await worker.exited()
            #expect(try await Self.psql(database, Self.orphans) == "0", "after kill \(loop)")
        }
        #expect(killedHolding > 0, "no worker was killed while it held a job")

        // A worker that lives drains the queue (held jobs return when their 3 s lease runs out).
        let survivor = try ServiceTests.startWorker("survivor", service: service, registry: proxy.host, arguments: attempts)
        defer { if survivor.isRunning { kill(survivor.processIdentifier, SIGKILL) } }
        try await ServiceTests.eventually("the queue to drain", seconds: 120) {
            let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0
        }
        let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
        #expect(summary == ["queued": 0, "running": 0, "done": count, "dead": 0])
        // Every image has its report, exactly as the clean run saw it, and exactly one scan.
        var documents: [Data] = []
        for index in 0..<count {
            let response = try await ServiceTests.request(.GET, "\(service.base)/v1/images/fleet/app-\(index)/1")
            #expect(response.status == 200, "fleet/app-\(index)")
            documents.append(response.body)
        }
        #expect(try Self.essences(documents) == clean)
        #expect(try await Self.psql(database, "SELECT count(*) || ' ' || count(DISTINCT name) FROM scans") == "\(count) \(count)")
        #expect(try await Self.psql(database, Self.orphans) == "0")
    }

    /// An image that kills each worker that reads it is not retried forever: the lease that runs
    /// out on its last attempt ends the job, dead, its error naming the worker lost, and the
    /// receivers are told (`scan.failed`), as of a scan that failed with an error.
    @Test(arguments: ["sqlite", "postgres"]) func aJobWhoseWorkerDiesOnItsLastAttemptIsDeadAndTold(_ backend: String) async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/poison", tag: "1")
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.seconds(3)), pathContains: "/manifests/", times: 1000)
        let directory = try Fixtures.temporaryDirectory("poison")
        try "poison-secret".write(toFile: directory + "/notify.secret", atomically: true, encoding: .utf8)
        let receiver = try await ServiceTests.startReceiver(secret: "poison-secret", in: directory)
        defer { receiver.server.stop() }
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("poison") : nil
        let service = try await ServiceTests.startService(workers: 0, store: store)
        defer { service.server.stop() }
        let image = "\(proxy.host)/team/poison:1"
        #expect(try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#).status == 202)
        let notify = ["--max-attempts", "1", "--notify-url", receiver.url, "--notify-secret-file", directory + "/notify.secret"]
        let doomed = try ServiceTests.startWorker("doomed", service: service, registry: proxy.host, arguments: notify)
        try await ServiceTests.eventually("the worker to hold the job", seconds: 30) {
            let jobs = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/jobs?state=running").body)
            return (jobs as? [[String: Any]])?.isEmpty == false
        }
        kill(doomed.processIdentifier, SIGKILL)
        await doomed.exited()
        // Another worker: it does not take the job again, and ends it once its lease ran out.
        let next = try ServiceTests.startWorker("next", service: service, registry: proxy.host, arguments: notify)
        defer { if next.isRunning { kill(next.processIdentifier, SIGKILL) } }
        try await ServiceTests.eventually("the job to die", seconds: 30) {
            (try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int])?["dead"] == 1
        }
        let dead = try #require(
            try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/jobs?state=dead").body) as? [[String: Any]])
        #expect(dead.first?["attempts"] as? Int == 1)
        let error = dead.first?["lastError"] as? String ?? ""
        #expect(error.contains("/\(doomed.processIdentifier)/") && error.contains("lease ran out"), "\(error)")
        var deliveries: [[String: Any]] = []
        try await ServiceTests.eventually("the failure's notification", seconds: 30) {
            let lines = (try? String(contentsOfFile: receiver.log, encoding: .utf8))?.split(separator: "\n") ?? []
            deliveries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return deliveries.contains { $0["status"] as? Int == 200 }
        }
        let body = try #require(deliveries.last?["body"] as? [String: Any])
        #expect(deliveries.last?["event"] as? String == "scan.failed" && body["image"] as? String == image)
        #expect((body["error"] as? String)?.contains("lease ran out") == true, "\(body)")
        #expect(Set(deliveries.compactMap { $0["delivery"] as? String }).count == 1, "told once")
    }

    /// The narrow window the loop above may miss: a worker that recorded its scan and died before
    /// storing the report. The retry completes the report without a second scan of the image.
    @Test(arguments: ["sqlite", "postgres"]) func aRetryCompletesTheReportOfADeadAttemptsScanWithoutScanningTwice(_ backend: String) async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/retry", tag: "1")
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.seconds(3)), pathContains: "/manifests/", times: 1000)
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("retry") : nil
        let service = try await ServiceTests.startService(workers: 0, store: store)
        defer { service.server.stop() }
        let image = "\(proxy.host)/team/retry:1"
        #expect(try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#).status == 202)
        let doomed = try ServiceTests.startWorker("doomed", service: service, registry: proxy.host)
        try await ServiceTests.eventually("the worker to hold the job", seconds: 30) {
            let jobs = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/jobs?state=running").body)
            return (jobs as? [[String: Any]])?.isEmpty == false
        }
        kill(doomed.processIdentifier, SIGKILL)
        await doomed.exited()
        // What the dead attempt had done before dying: the scan recorded, no report.
        let recorded = try await Tool.run(
            [Fixtures.fathomExecutable, "scan", image, "--store", service.store, "-q"], environment: Fixtures.isolatedEnvironment)
        #expect(recorded.status == 0)
        let survivor = try ServiceTests.startWorker("survivor", service: service, registry: proxy.host)
        defer { if survivor.isRunning { kill(survivor.processIdentifier, SIGKILL) } }
        try await ServiceTests.eventually("the retried job", seconds: 60) {
            (try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int])?["done"] == 1
        }
        #expect(try await ServiceTests.request(.GET, "\(service.base)/v1/images/team/retry/1").status == 200)
        let scans = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/images/team/retry/1/scans").body)
        #expect((scans as? [Any])?.count == 1, "one scan of the image, not one per attempt: \(scans)")
    }

    /// Rows that only a half-written scan would leave: heads without their scan, scans of a name
    /// without a head or of an image not stored, images whose inventory is missing, reports of
    /// no scan.
    static let orphans = """
        SELECT (SELECT count(*) FROM heads WHERE scan_id NOT IN (SELECT id FROM scans))
             + (SELECT count(*) FROM scans WHERE name NOT IN (SELECT name FROM heads))
             + (SELECT count(*) FROM scans WHERE image_key NOT IN (SELECT image_key FROM images))
             + (SELECT count(*) FROM images WHERE inventory_key IS NOT NULL AND inventory_key NOT IN (SELECT inventory_key FROM inventories))
             + (SELECT count(*) FROM reports WHERE scan_id NOT IN (SELECT id FROM scans))
        """

    static func sqlite(_ store: String, _ sql: String) async throws -> String {
        try await Tool.run([
            "python3", "-c",
            "import sqlite3,sys; print('\\n'.join(' '.join(map(str, row)) for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))",
            store, sql,
        ]).text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func psql(_ database: String, _ sql: String) async throws -> String {
        try await Tool.run(["psql", database, "-tAc", sql]).text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
