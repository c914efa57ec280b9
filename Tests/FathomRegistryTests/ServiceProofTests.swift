import AsyncHTTPClient
import FathomCore
import FathomStore
import FathomTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import FathomStores

/// The issue's proof, in one run of real processes on loopback: a registry whose notifications
/// reach `fathom serve`; 30 images pushed with `skopeo`; on PostgreSQL three `fathom worker`
/// processes, one SIGKILLed while it holds a job (on the embedded SQLite store, the in-process
/// workers); then every image has exactly one scan, the queue is empty of queued, running and
/// dead jobs, the pulls the registry reported put exactly the pulled images into the rescan an
/// advisory import triggers, the receiver gets a signed notification for exactly the affected
/// pulled images, Harbor's adapter returns a report valid by its spec, and no token means 401.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ServiceProofTests {
    @Test(arguments: ["postgres", "sqlite"]) func thirtyImagesThroughTheServiceEndToEnd(_ backend: String) async throws {
        let directory = try Fixtures.temporaryDirectory("proof")
        let secret = "proof-notify-secret"
        try secret.write(toFile: directory + "/notify.secret", atomically: true, encoding: .utf8)
        let receiver = try await ServiceTests.startReceiver(secret: secret, in: directory)
        defer { receiver.server.stop() }
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("proof") : nil
        let port = try freePort()
        let registry = try await LocalRegistry(notify: ("http://127.0.0.1:\(port)/v1/events", ServiceTests.webhookToken))
        defer { registry.stop() }
        // Manifests come slowly through this proxy, so a worker is caught holding a job.
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.milliseconds(300)), pathContains: "/manifests/", times: 10_000)
        let window = 25
        let service = try await ServiceTests.startService(
            workers: backend == "postgres" ? 0 : 3, port: port, store: store,
            arguments: [
                "--registry", proxy.host, "--insecure-registry", proxy.host, "--lease", "3s", "--rescan-window", "\(window)s",
                "--notify-url", receiver.url, "--notify-secret-file", directory + "/notify.secret",
            ])
        defer { service.server.stop() }
        var workers: [Process] = []
        if backend == "postgres" {
            // The process that runs a scan queues its notifications: workers name the receivers too.
            workers = try (0..<3).map {
                try ServiceTests.startWorker(
                    "proof-worker-\($0)", service: service, registry: proxy.host,
                    arguments: ["--rescan-window", "\(window)s", "--notify-url", receiver.url, "--notify-secret-file", directory + "/notify.secret"])
            }
        }
        defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }

        let layout = try await TestImages.layout()
        // Even images: Alpine 3.7.3 (musl findings); odd: busybox (no package database).
        let repositories = (0..<30).map { String(format: "proof/i%02d", $0) }
        // While the images are pushed (and scanned as they come), the first worker is killed
        // the moment it is seen holding a job.
        let doomed = workers.first?.processIdentifier
        let base = service.base
        let killer = Task { () async throws -> Bool in
            guard let doomed else { return true }
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                let jobs = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(base)/v1/jobs?state=running").body)
                if (jobs as? [[String: Any]] ?? []).contains(where: { ($0["worker"] as? String)?.contains("/\(doomed)/") == true }) {
                    kill(doomed, SIGKILL)
                    return true
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        for (index, repository) in repositories.enumerated() {
            try await registry.push(index.isMultiple(of: 2) ? "oci:\(layout.directory):gzip" : "oci:\(TestImages.busyboxMusl)", to: repository, tag: "1")
        }
        let lastPush = Date()
        #expect(try await killer.value, "the first worker was never seen holding a job")
        await workers.first?.exited()
        try await ServiceTests.eventually("every push scanned", seconds: 180) {
            let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0 && (summary?["done"] ?? 0) + (summary?["dead"] ?? 0) >= repositories.count
        }
        let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
        #expect(summary?["dead"] == 0 && summary?["done"] == repositories.count, "\(String(describing: summary))")
        for repository in repositories {
            let history = try JSONSerialization.jsonObject(with: try await ServiceTests.request(.GET, "\(service.base)/v1/images/\(repository)/1/scans").body)
            let scans = history as? [[String: Any]] ?? []
            #expect(scans.count == 1, "\(repository): \(scans.count) scans")
            let report = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/images/\(repository)/1").body)
            #expect(scans.first?["manifestDigest"] as? String == (report["artifact"] as? [String: Any])?["manifestDigest"] as? String, "\(repository)")
        }

        // Once the pushes are out of the window, two Alpine images and one busybox are pulled.
        let elapsed = Date().timeIntervalSince(lastPush)
        if elapsed < Double(window) + 1 { try await Task.sleep(for: .seconds(Double(window) + 1 - elapsed)) }
        let pulled = ["proof/i04", "proof/i10", "proof/i07"]
        for repository in pulled {
            try await Tool.run(
                ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(registry.host)/\(repository):1", "dir:\(directory)/\(repository.replacingOccurrences(of: "/", with: "-"))"])
        }
        // The pulls are in the store once the registry's notifications arrived.
        let events = try await openStore(store ?? service.store)
        try await ServiceTests.eventually("the pull events", seconds: 30) {
            var recorded = 0
            for repository in pulled where try await events.lastEvent(.pull, repository: repository, tag: "1", digest: nil) != nil {
                recorded += 1
            }
            return recorded == pulled.count
        }
        try await events.close()
        let feed = directory + "/feed.json"
        try #"""
            {"id": "PROOF-MUSL-1", "modified": "2026-11-29T00:00:00Z", "aliases": ["CVE-2026-0002"],
             "affected": [{"package": {"ecosystem": "Alpine:v3.7", "name": "musl"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.18-r9"}]}]}]}
            """#.write(toFile: feed, atomically: true, encoding: .utf8)
        try await Tool.run(
            [Fixtures.fathomExecutable, "db", "import", "--store", store ?? service.store, feed], environment: Fixtures.isolatedEnvironment)
        var deliveries: [[String: Any]] = []
        try await ServiceTests.eventually("the notifications", seconds: 60) {
            let lines = (try? String(contentsOfFile: receiver.log, encoding: .utf8))?.split(separator: "\n") ?? []
            deliveries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let delivered = Set(
                deliveries.filter { $0["status"] as? Int == 200 }.compactMap { $0["body"] as? [String: Any] }.filter { $0["trigger"] as? String == "rescan" }
                    .compactMap { $0["image"] as? String })
            return delivered.count >= 2
        }
        // Settle: a stray notification for an image outside the window would come now.
        try await Task.sleep(for: .seconds(3))
        let lines = (try? String(contentsOfFile: receiver.log, encoding: .utf8))?.split(separator: "\n") ?? []
        deliveries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(deliveries.allSatisfy { $0["verified"] as? Bool == true })
        // Each Alpine image's first push was told once (the push that killed its worker too).
        func trigger(_ delivery: [String: Any]) -> String? { (delivery["body"] as? [String: Any])?["trigger"] as? String }
        let pushes = deliveries.filter { trigger($0) == "push" }
        let pushed = Dictionary(grouping: pushes.compactMap { $0["delivery"] as? String }, by: { $0 }).keys.count
        #expect(pushed == repositories.count / 2, "\(pushed) first-push notifications")
        #expect(Set(pushes.compactMap { ($0["body"] as? [String: Any])?["image"] as? String })
            == Set(repositories.enumerated().filter { $0.offset.isMultiple(of: 2) }.map { "\(proxy.host)/\($0.element):1" }))
        let rescans = deliveries.filter { trigger($0) == "rescan" }
        let notified = Set(rescans.compactMap { ($0["body"] as? [String: Any])?["image"] as? String })
        #expect(notified == ["\(proxy.host)/proof/i04:1", "\(proxy.host)/proof/i10:1"])
        for delivery in rescans {
            let new = ((delivery["body"] as? [String: Any])?["new"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(Set(new) == ["PROOF-MUSL-1"])
        }

        // Harbor's adapter scans one of them with the credentials it sends (none here) and
        // reports by its spec.
        let spec = Fixtures.root.appendingPathComponent("schemas/harbor/scanner-adapter-openapi-v1.2.yaml").path
        let digest = try #require(
            (try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/images/proof/i00/1").body)["artifact"] as? [String: Any])?[
                "manifestDigest"] as? String)
        let body = """
            {"registry": {"url": "http://\(registry.host)"}, "artifact": {"repository": "proof/i00", "digest": "\(digest)"}}
            """
        // A Harbor scan is a job: on PostgreSQL `serve --workers 0` queues it and a worker process scans it.
        let scan = try ServiceTests.object(try await ServiceTests.request(.POST, "\(service.base)/api/v1/scan", body: body).body)
        let id = try #require(scan["id"] as? String)
        var report = Data()
        try await ServiceTests.eventually("the Harbor report", seconds: 60) {
            let answer = try await ServiceTests.request(.GET, "\(service.base)/api/v1/scan/\(id)/report")
            report = answer.body
            return answer.status == 200
        }
        #expect(try await ServiceTests.schemaErrors(report, component: "HarborVulnerabilityReport", document: spec).isEmpty)
        for path in ["/v1/jobs/summary", "/v1/images/proof/i00/1", "/api/v1/metadata"] {
            #expect(try await ServiceTests.request(.GET, service.base + path, token: nil).status == 401, "\(path)")
        }
        for worker in workers where worker.isRunning { worker.terminate() }
    }
}
