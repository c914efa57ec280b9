import AsyncHTTPClient
import FathomCore
import FathomSQLite
import FathomTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `fathom serve` on loopback with the embedded store and in-process workers, fed by the real
/// `docker-registry`'s notifications: pushes with `skopeo` are scanned, pulls recorded, the API
/// answers behind its token.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ServiceTests {
    /// A running `fathom serve` and what it was started with.
    struct Service {
        var port: Int
        var store: String
        var directory: String
        var server: BackgroundServer
        var base: String { "http://127.0.0.1:\(port)" }
    }

    static let apiToken = "api-token-for-tests"
    static let webhookToken = "webhook-token-for-tests"

    static func startService(workers: Int = 2) async throws -> Service {
        let directory = try Fixtures.temporaryDirectory("service")
        let store = directory + "/fathom.db"
        try apiToken.write(toFile: directory + "/api.token", atomically: true, encoding: .utf8)
        try webhookToken.write(toFile: directory + "/webhook.token", atomically: true, encoding: .utf8)
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, secdb], environment: Fixtures.isolatedEnvironment)
        let port = try freePort()
        let command =
            "\"\(Fixtures.fathomExecutable)\" serve --listen 127.0.0.1:\(port) --store \"$1\" --workers \(workers) "
            + "--api-token-file \(directory)/api.token --webhook-token-file \(directory)/webhook.token"
        let server = try await BackgroundServer(command, argument: store, port: port, log: directory + "/serve.log")
        return Service(port: port, store: store, directory: directory, server: server)
    }

    /// (status, body) of a request, with the API token unless `token` says otherwise.
    static func request(
        _ method: HTTPMethod, _ url: String, token: String? = apiToken, body: String? = nil
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    static func object(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    /// Polls until `check` holds, or fails after `seconds`.
    static func eventually(_ what: String, seconds: Double = 60, _ check: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test func pushedImagesAreScannedPullsRecordedAndTheAPIAnswersOnlyWithItsToken() async throws {
        let service = try await Self.startService()
        defer { service.server.stop() }
        let registry = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/tools", tag: "busybox")

        // The push is scanned: the report is the `scan --format json` document.
        var report: [String: Any] = [:]
        try await Self.eventually("the report of team/app:1.0") {
            let (status, body) = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0")
            if status == 200 { report = try Self.object(body) }
            return status == 200
        }
        let artifact = try #require(report["artifact"] as? [String: Any])
        #expect(artifact["name"] as? String == "\(registry.host)/team/app:1.0")
        #expect((artifact["manifestDigest"] as? String) == layout.gzip.manifestDigest.description)
        let vulnerabilities = report["vulnerabilities"] as? [[String: Any]] ?? []
        #expect(vulnerabilities.contains { ($0["aliases"] as? [String] ?? []).contains("CVE-2019-14697") && $0["package"] as? String == "musl" })
        // By digest (percent-encoded repository too) and the scan history: one scan, this digest.
        let byDigest = try await Self.request(.GET, "\(service.base)/v1/images/team%2Fapp/\(layout.gzip.manifestDigest)")
        #expect(byDigest.status == 200)
        let history = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0/scans")
        let scans = try #require(try JSONSerialization.jsonObject(with: history.body) as? [[String: Any]])
        #expect(scans.count == 1)
        #expect(scans.first?["manifestDigest"] as? String == layout.gzip.manifestDigest.description)
        try await Self.eventually("the report of team/tools:busybox") {
            try await Self.request(.GET, "\(service.base)/v1/images/team/tools/busybox").status == 200
        }
        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body)
        #expect(summary as? [String: Int] == ["queued": 0, "running": 0, "done": 2, "dead": 0])

        // An event seen for the first time queues a scan; its redelivery changes nothing.
        let envelope = """
            {"events": [{"id": "redelivered-1", "timestamp": "2026-11-29T10:00:00.000000000Z", "action": "push",
              "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(layout.gzip.manifestDigest)",
                         "repository": "team/app", "tag": "1.0"}, "request": {"host": "\(registry.host)"}}]}
            """
        let first = try Self.object(try await Self.request(.POST, "\(service.base)/v1/events", token: Self.webhookToken, body: envelope).body)
        let again = try Self.object(try await Self.request(.POST, "\(service.base)/v1/events", token: Self.webhookToken, body: envelope).body)
        #expect(first["new"] as? Int == 1 && (first["jobs"] as? [Int])?.count == 1)
        #expect(again["new"] as? Int == 0 && (again["jobs"] as? [Int])?.isEmpty == true)

        // A pull is recorded from the registry's own notification.
        try await Tool.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(registry.host)/team/app:1.0", "dir:\(service.directory)/pulled"])
        try await Self.eventually("the pull event") {
            let database = try SQLiteConnection(path: service.store, mode: .readOnly)
            var pulls = 0
            try database.query("SELECT COUNT(*) FROM registry_events WHERE action = 'pull' AND repository = 'team/app'") { pulls = Int($0.integer(0)) }
            return pulls > 0
        }

        // Without the right token: 401, and nothing is queued.
        for (method, path, token) in [
            (HTTPMethod.GET, "/v1/images/team/app/1.0", nil), (.GET, "/v1/jobs", "wrong"), (.POST, "/v1/scans", nil),
            (.POST, "/v1/events", Self.apiToken),
        ] as [(HTTPMethod, String, String?)] {
            let response = try await Self.request(method, service.base + path, token: token, body: method == .POST ? "{}" : nil)
            #expect(response.status == 401, "\(method) \(path)")
        }
        // Open endpoints, and errors that say what is wrong.
        #expect(try await Self.request(.GET, "\(service.base)/healthz", token: nil).status == 200)
        #expect(try await Self.request(.GET, "\(service.base)/readyz", token: nil).status == 200)
        // Once the redelivered push's scan is done, the metrics count every scan the jobs did.
        var done = 0
        try await Self.eventually("the queue to drain") {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            done = summary?["done"] ?? 0
            return summary?["queued"] == 0 && summary?["running"] == 0
        }
        #expect(done == 3)
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics", token: nil).body, as: UTF8.self)
        #expect(metrics.contains("fathom_scans_completed_total \(done)\n"))
        #expect(metrics.contains("fathom_jobs{state=\"done\"}"))
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/app/9.9").status == 404)
        #expect(try await Self.request(.GET, "\(service.base)/v1/jobs?state=finished").status == 400)
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"img\": 1}").status == 400)
        #expect(try await Self.request(.POST, "\(service.base)/v1/events", token: Self.webhookToken, body: "[1,2").status == 400)
        let large = String(repeating: " ", count: 2 << 20)
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"image\": \"x\"}" + large).status == 413)
    }
}
