import FathomCore
import FathomStore
import FathomTestSupport
import NIOHTTP1
import Foundation
import Testing

/// Credentials never leak, and what a tenant writes is data, never SQL.
@Suite(.serialized, .timeLimit(.minutes(6))) struct SecretsAndInjectionTests {
    /// Planted secrets, each unique enough that finding it anywhere can only be a leak.
    static let registryPassword = "pw-registry-7Qx2vLmZ9k"
    static let wrongPassword = "pw-wrong-4Hs8dNc3Tq"
    static let apiToken = "api-token-9Rt5wYb1Jm"
    static let webhookToken = "webhook-token-3Pk6zXa8Fe"
    static let notifySecret = "notify-secret-5Gd2uVn7Lc"
    static let username = "robot-fathom"

    /// Every credential fathom is given, through every way it takes one: config.json auths,
    /// `--password-stdin`, `FATHOM_PASSWORD`, API and webhook tokens, the notification key, and
    /// a Harbor scan request's registry authorization. Debug logs on. Afterwards every byte fathom
    /// wrote (standard output and error of each command, logs, reports in every format, metrics,
    /// API answers, the store's files) is searched for each secret and its base64 forms.
    @Test func plantedSecretsAppearInNoOutput() async throws {
        let registry = try await LocalRegistry(auth: .htpasswd(username: Self.username, password: Self.registryPassword))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1", credentials: (Self.username, Self.registryPassword))
        let directory = try Fixtures.temporaryDirectory("secrets")
        let store = directory + "/fathom.db"
        let basic = Data("\(Self.username):\(Self.registryPassword)".utf8).base64EncodedString()
        try FileManager.default.createDirectory(atPath: directory + "/docker", withIntermediateDirectories: true)
        try #"{"auths": {"\#(registry.host)": {"auth": "\#(basic)"}}}"#.write(toFile: directory + "/docker/config.json", atomically: true, encoding: .utf8)
        var environment = Fixtures.isolatedEnvironment
        environment["DOCKER_CONFIG"] = directory + "/docker"
        environment["FATHOM_LOG_LEVEL"] = "trace"
        var written: [(String, Data)] = []
        func fathom(_ arguments: [String], input: String? = nil, extra: [String: String] = [:]) async throws -> ProcessOutput {
            let output = try await Tool.run(
                [Fixtures.fathomExecutable] + arguments, input: input.map { Data($0.utf8) }, environment: environment.merging(extra) { $1 },
                check: false)
            written.append(("\(arguments) stdout", output.stdout))
            written.append(("\(arguments) stderr", output.stderr))
            return output
        }
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", store, secdb]).status == 0)
        let image = "\(registry.host)/team/app:1"
        #expect(try await fathom(["scan", image, "--store", store, "-f", "json"]).status == 0)
        let noConfig = ["DOCKER_CONFIG": directory + "/empty"]
        let stdin = try await fathom(["scan", image, "--store", store, "--username", Self.username, "--password-stdin"], input: Self.registryPassword + "\n", extra: noConfig)
        #expect(stdin.status == 0, "\(stdin.errorText)")
        let variable = try await fathom(["scan", image, "--username", Self.username], extra: noConfig.merging(["FATHOM_PASSWORD": Self.registryPassword]) { $1 })
        #expect(variable.status == 0, "\(variable.errorText)")
        let wrong = try await fathom(["scan", image, "--username", Self.username, "--password-stdin"], input: Self.wrongPassword + "\n", extra: noConfig)
        #expect(wrong.status == 1 && wrong.errorText.contains("unauthorized"), "\(wrong.errorText)")
        for format in ["json", "sarif", "cyclonedx", "spdx", "harbor", "html"] {
            #expect(try await fathom(["registry", registry.host, "--store", store, "-f", format, "-o", "\(directory)/reports-\(format)"]).status == 0)
        }

        // The service, with its tokens in files and the registry's credentials from config.json.
        for (name, secret) in [("api", Self.apiToken), ("webhook", Self.webhookToken), ("notify", Self.notifySecret)] {
            try secret.write(toFile: "\(directory)/\(name).token", atomically: true, encoding: .utf8)
        }
        let port = try freePort()
        let serveLog = directory + "/serve.log"
        let server = try await BackgroundServer(
            "env DOCKER_CONFIG=\(directory)/docker FATHOM_LOG_LEVEL=trace \"\(Fixtures.fathomExecutable)\" serve --listen 127.0.0.1:\(port) --store \"$1\" --workers 1 "
                + "--api-token-file \(directory)/api.token --webhook-token-file \(directory)/webhook.token --notify-secret-file \(directory)/notify.token "
                + "--notify-url http://127.0.0.1:1/hook --db-update-interval off --rescan-interval off",
            argument: store, port: port, log: serveLog)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(port)"
        func request(_ method: String, _ path: String, token: String? = SecretsAndInjectionTests.apiToken, body: String? = nil) async throws -> (Int, Data) {
            let (status, data) = try await ServiceTests.request(.init(rawValue: method), base + path, token: token, body: body)
            written.append(("\(method) \(path)", data))
            return (status, data)
        }
        #expect(try await request("POST", "/v1/scans", body: #"{"image": "\#(image)"}"#).0 == 202)
        #expect(try await request("POST", "/v1/events", token: Self.webhookToken, body: #"{"events": []}"#).0 == 202)
        #expect(try await request("POST", "/v1/events", token: "not-" + Self.webhookToken, body: #"{"events": []}"#).0 == 401)
        // A refused delivery is said (a mistyped registry token would stop every scan in silence),
        // once a minute at most, and counted; the token given is never in the line.
        #expect(try await request("POST", "/v1/events", token: "not-" + Self.webhookToken, body: #"{"events": []}"#).0 == 401)
        try await ServiceTests.eventually("the refused delivery's log line") {
            ((try? String(contentsOfFile: serveLog, encoding: .utf8)) ?? "").contains("a registry webhook delivery was refused: the bearer token is not valid")
        }
        let refusals = ((try? String(contentsOfFile: serveLog, encoding: .utf8)) ?? "").components(separatedBy: "webhook delivery was refused").count - 1
        #expect(refusals == 1)
        let metrics = String(decoding: try await request("GET", "/metrics", token: nil).1, as: UTF8.self)
        #expect(metrics.contains("fathom_webhook_deliveries_refused_total 2"), "\(metrics.prefix(3000))")
        let harbor = """
            {"registry": {"url": "http://\(registry.host)", "authorization": "Basic \(basic)"},
             "artifact": {"repository": "team/app", "digest": "\(layout.gzip.manifestDigest)", "tag": "1",
                          "mime_type": "application/vnd.oci.image.manifest.v1+json"}}
            """
        let harborScan = try await request("POST", "/api/v1/scan", body: harbor)
        #expect(harborScan.0 == 202)
        let harborID = try #require(try ServiceTests.object(harborScan.1)["id"] as? String)
        try await ServiceTests.eventually("both scans") {
            let (status, _) = try await request("GET", "/api/v1/scan/\(harborID)/report")
            let summary = try ServiceTests.object(try await request("GET", "/v1/jobs/summary").1) as? [String: Int]
            return status == 200 && summary?["done"] == 2  // the pushed image's scan and Harbor's, both jobs
        }
        // Harbor's job is done: its sealed authorization is no longer kept with it.
        let harborPayload = try await Tool.sqlite(store, "SELECT payload FROM jobs WHERE id = \(harborID)").text
        #expect(harborPayload.contains("\"repository\"") && !harborPayload.contains(Job.secretPayloadField), "\(harborPayload)")
        for path in ["/v1/images/team/app/1", "/v1/findings?id=CVE-2019-14697", "/v1/fleet/summary", "/v1/jobs", "/", "/images/team/app/1"] {
            let (status, body) = try await request("GET", path)
            #expect(status == 200, "\(path): \(status) \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        #expect(try await request("GET", "/metrics", token: nil).0 == 200)
        server.stop()

        written.append(("serve.log", try Data(contentsOf: URL(fileURLWithPath: serveLog))))
        for file in try FileManager.default.subpathsOfDirectory(atPath: directory)
        where file.hasPrefix("fathom.db") || file.hasPrefix("reports-") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(directory)/\(file)", isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            written.append((file, try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)"))))
        }
        #expect(written.contains { $0.0.hasPrefix("reports-sarif/") } && written.contains { $0.0 == "fathom.db" })
        // The debug log really is verbose (a search of nothing would prove nothing).
        #expect(written.first { $0.0 == "serve.log" }.map { $0.1.count > 1000 } == true)
        let secrets = [Self.registryPassword, Self.wrongPassword, Self.apiToken, Self.webhookToken, Self.notifySecret, basic]
            + [Self.registryPassword, Self.apiToken, Self.webhookToken, Self.notifySecret].map { Data($0.utf8).base64EncodedString() }
            // and as Swift prints a byte array ("[110, 111, …]"), the form a key held as bytes takes.
            + [Self.registryPassword, Self.apiToken, Self.webhookToken, Self.notifySecret].map { "\(Array($0.utf8).prefix(8))".dropLast().description }
        for (name, bytes) in written {
            for secret in secrets { #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(name) holds the secret \(secret)") }
        }
    }

    /// SQL fragments through every input that reaches the store, on both back ends: advisory ids
    /// and package names from a feed, event payloads, scan requests, API paths and query
    /// parameters. Each must come back as the exact text it was (or be refused as invalid),
    /// match nothing it should not, and leave every table whole.
    @Test(arguments: ["sqlite", "postgres"]) func sqlFragmentsAreDataNotSQL(_ backend: String) async throws {
        let fragments = [
            "x'); DROP TABLE images; --", "' OR '1'='1", "\"; DELETE FROM scans; --", "\\'; SELECT pg_sleep(5); --",
            "%' OR 1=1 --", "$1", "?",
        ]
        let directory = try Fixtures.temporaryDirectory("injection")
        let store = backend == "postgres" ? try await LocalPostgres.shared.value.database("injection") : directory + "/fathom.db"
        let (registry, layout) = try await TestImages.sharedRegistry()
        func fathom(_ arguments: [String]) async throws -> ProcessOutput {
            try await Tool.run([Fixtures.fathomExecutable] + arguments, environment: Fixtures.isolatedEnvironment, check: false)
        }
        // An OSV feed whose ids and package names are SQL, and an SBOM holding those packages.
        try FileManager.default.createDirectory(atPath: directory + "/osv", withIntermediateDirectories: true)
        var components: [[String: Any]] = []
        for (index, fragment) in fragments.enumerated() {
            let advisory: [String: Any] = [
                "id": "EVIL-\(index)-\(fragment)", "modified": "2026-01-01T00:00:00Z", "summary": fragment,
                "affected": [["package": ["ecosystem": "npm", "name": "evil\(fragment)"], "ranges": [["type": "SEMVER", "events": [["introduced": "0"], ["fixed": "2.0.0"]]]]]],
            ]
            try JSONSerialization.data(withJSONObject: advisory).write(to: URL(fileURLWithPath: "\(directory)/osv/\(index).json"))
            let purl = "pkg:npm/" + "evil\(fragment)".addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "@1.0.0"
            components.append(["type": "library", "name": "evil\(fragment)", "version": "1.0.0", "purl": purl])
        }
        let imported = try await fathom(["db", "import", "--store", store, "--source", "evil' feed", directory + "/osv"])
        #expect(imported.status == 0, "\(imported.errorText)")
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", store, secdb]).status == 0)
        let sbom: [String: Any] = ["bomFormat": "CycloneDX", "specVersion": "1.5", "components": components]
        try JSONSerialization.data(withJSONObject: sbom).write(to: URL(fileURLWithPath: directory + "/sbom.json"))
        let scan = try await fathom(["scan", "sbom:\(directory)/sbom.json", "--store", store, "-f", "json"])
        #expect(scan.status == 0, "\(scan.errorText)")
        let report = try JSONSerialization.jsonObject(with: scan.stdout) as? [String: Any] ?? [:]
        let found = Set((report["vulnerabilities"] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "") \($0["package"] ?? "")" })
        // Each advisory matches its own package, byte for byte, and no other.
        #expect(found == Set(fragments.enumerated().map { "EVIL-\($0.offset)-\($0.element) evil\($0.element)" }), "\(found)")

        // The service: events, scan requests, paths and query parameters.
        let service = try await ServiceTests.startService(workers: 1, store: store, arguments: ["--registry", registry.host])
        defer { service.server.stop() }
        let base = service.base
        #expect(try await ServiceTests.request(.POST, "\(base)/v1/scans", body: #"{"image": "\#(registry.host)/alpine:3.7"}"#).status == 202)
        for fragment in fragments {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: [fragment]), as: UTF8.self).dropFirst().dropLast()
            let envelope = """
                {"events": [{"id": \(json), "timestamp": "2026-11-29T10:00:00Z", "action": "pull",
                  "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(layout.gzip.manifestDigest)",
                             "repository": \(json), "tag": \(json)}, "request": {"host": \(json)}}]}
                """
            let event = try await ServiceTests.request(.POST, "\(base)/v1/events", token: ServiceTests.webhookToken, body: envelope)
            #expect([202, 400].contains(event.status), "\(fragment): \(event.status)")
            let scanRequest = try await ServiceTests.request(.POST, "\(base)/v1/scans", body: #"{"image": \#(json)}"#)
            #expect(scanRequest.status == 400, "\(fragment) is not an image reference")
            let escaped = fragment.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let findings = try await ServiceTests.request(.GET, "\(base)/v1/findings?id=\(escaped)")
            #expect(findings.status == 200 || findings.status == 400)
            if findings.status == 200 { #expect(try ServiceTests.object(findings.body)["count"] as? Int == 0, "\(fragment) matched findings") }
            #expect(try await ServiceTests.request(.GET, "\(base)/v1/images/\(escaped)/\(escaped)").status == 404)
            #expect(try await ServiceTests.request(.GET, "\(base)/v1/findings?severity=\(escaped)").status == 400)
        }
        try await ServiceTests.eventually("the real scan") {
            try await ServiceTests.request(.GET, "\(base)/v1/images/alpine/3.7").status == 200
        }
        // The control: a real id matches, so the zero counts above are not an empty store.
        let real = try ServiceTests.object(try await ServiceTests.request(.GET, "\(base)/v1/findings?id=CVE-2019-14697").body)
        #expect((real["count"] as? Int ?? 0) > 0)
        service.server.stop()
        // Every table is whole and the advisories are stored as written.
        let stats = try await fathom(["db", "stats", "--store", store])
        #expect(stats.status == 0, "\(stats.errorText)")
        let tables = try await Self.tableCounts(store, backend: backend)
        for table in ["images", "scans", "advisories", "jobs", "registry_events", "reports"] {
            #expect((tables[table] ?? -1) >= 0, "table \(table) is gone: \(tables)")
        }
        #expect(tables["advisories"] ?? 0 >= fragments.count)
        #expect((tables["reports"] ?? 0) >= 1 && (tables["scans"] ?? 0) >= 1)
    }

    /// Rows per table, read with the back end's own client (Python's sqlite3, or psql).
    static func tableCounts(_ store: String, backend: String) async throws -> [String: Int] {
        let tables = ["images", "scans", "advisories", "jobs", "registry_events", "reports"]
        var counts: [String: Int] = [:]
        for table in tables {
            let output: ProcessOutput
            if backend == "postgres" {
                output = try await Tool.run(["psql", store, "-tAc", "SELECT count(*) FROM \(table)"], check: false)
            } else {
                output = try await Tool.run([
                    "python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM \(table)').fetchone()[0])", store,
                ], check: false)
            }
            counts[table] = output.status == 0 ? Int(output.text.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
        }
        return counts
    }
}
