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
@Suite(.serialized, .timeLimit(.minutes(8))) struct ServiceTests {
    /// A running `fathom serve` and what it was started with.
    struct Service {
        var port: Int
        var store: String
        var directory: String
        var server: BackgroundServer
        var base: String { "http://127.0.0.1:\(port)" }
    }

    /// Answers are read as they come: Harbor's 302 "not ready yet" is a status to see, not a
    /// redirect to follow. Lives as long as the test process.
    static let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))
    static let apiToken = "api-token-for-tests"
    static let webhookToken = "webhook-token-for-tests"

    /// Starts `fathom serve` on `store` (default: an SQLite file of its own) with Alpine's v3.7 advisories.
    static func startService(workers: Int = 2, port chosen: Int? = nil, store chosenStore: String? = nil, arguments: [String] = [])
        async throws -> Service
    {
        let directory = try Fixtures.temporaryDirectory("service")
        let store = chosenStore ?? directory + "/fathom.db"
        try apiToken.write(toFile: directory + "/api.token", atomically: true, encoding: .utf8)
        try webhookToken.write(toFile: directory + "/webhook.token", atomically: true, encoding: .utf8)
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, secdb], environment: Fixtures.isolatedEnvironment)
        let port = try chosen ?? freePort()
        // No daily rescan unless a test asks: its slot is midnight UTC, and a test that counts
        // jobs across it found one more (CI's stop 38).
        var arguments = arguments.contains("--registry") ? arguments : arguments + ["--registry", "127.0.0.1:*"]
        if !arguments.contains("--rescan-interval") { arguments += ["--rescan-interval", "off"] }
        let command =
            "\"\(Fixtures.fathomExecutable)\" serve --listen 127.0.0.1:\(port) --store \"$1\" --workers \(workers) "
            + "--api-token-file \(directory)/api.token --webhook-token-file \(directory)/webhook.token --db-update-interval off "
            + arguments.map { "'\($0)'" }.joined(separator: " ")
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
        let response = try await client.execute(request, timeout: .seconds(30))
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

    /// An image is a registry, a repository and a reference: the same `team/app:1` pushed to
    /// two real registries is two images, each with its own report and history; asked without
    /// `?registry=` the API answers 409 with both. Errors have one shape; `bearer` is a bearer.
    @Test(arguments: ["sqlite", "postgres"]) func theSameNameInTwoRegistriesIsTwoImages(_ backend: String) async throws {
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("identity") : nil
        let service = try await Self.startService(store: store)
        defer { service.server.stop() }
        let first = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { first.stop() }
        let second = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { second.stop() }
        let layout = try await TestImages.layout()
        try await first.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1")
        try await second.push("oci:\(TestImages.busyboxMusl)", to: "team/app", tag: "1")
        for registry in [first, second] {
            try await Self.eventually("the report of \(registry.host)/team/app:1") {
                try await Self.request(.GET, "\(service.base)/v1/images/team/app/1?registry=\(registry.host)").status == 200
            }
        }
        let ambiguous = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1")
        #expect(ambiguous.status == 409)
        let error = try #require(try Self.object(ambiguous.body)["error"] as? [String: Any])
        #expect(Set(error["registries"] as? [String] ?? []) == [first.host, second.host])
        #expect((error["message"] as? String)?.contains("?registry=") == true)
        for (registry, manifest) in [(first, layout.gzip.manifestDigest.description), (second, nil as String?)] {
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1?registry=\(registry.host)").body)
            let artifact = try #require(report["artifact"] as? [String: Any])
            #expect(artifact["name"] as? String == "\(registry.host)/team/app:1")
            if let manifest { #expect(artifact["manifestDigest"] as? String == manifest) }
            let history = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1/scans?registry=\(registry.host)")
            let scans = try #require(try JSONSerialization.jsonObject(with: history.body) as? [[String: Any]])
            #expect(scans.map { $0["name"] as? String } == ["\(registry.host)/team/app:1"])
        }
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1/scans").status == 409)
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1?registry=127.0.0.1:1").status == 404)
        // The host alone is both registries (each at a port of its own).
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1?registry=127.0.0.1").status == 409)
        let fleet = try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)
        #expect((fleet["images"] as? [String: Int])?["scanned"] == 2)
        // Every error body is {"error": {"message": …}}; the scheme is case-insensitive.
        let missing = try await Self.request(.GET, "\(service.base)/v1/images/none/here")
        #expect(missing.status == 404)
        #expect(((try Self.object(missing.body))["error"] as? [String: Any])?["message"] is String)
        var request = HTTPClientRequest(url: "\(service.base)/v1/jobs/summary")
        request.headers.add(name: "Authorization", value: "bearer \(Self.apiToken)")
        #expect(try await Self.client.execute(request, timeout: .seconds(10)).status.code == 200)
    }

    /// A manifest deleted from the real registry (`skopeo delete`) leaves the fleet through the
    /// registry's own delete events: both tags of it, their findings and their counts; the
    /// other repository stays.
    @Test(arguments: ["sqlite", "postgres"]) func anImageDeletedFromTheRegistryLeavesTheFleet(_ backend: String) async throws {
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("deleted") : nil
        let service = try await Self.startService(store: store)
        defer { service.server.stop() }
        let registry = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "latest")
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/tools", tag: "busybox")
        for image in ["team/app/1.0", "team/app/latest", "team/tools/busybox"] {
            try await Self.eventually("the report of \(image)") { try await Self.request(.GET, "\(service.base)/v1/images/\(image)").status == 200 }
        }
        func scanned() async throws -> Int? {
            (try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)["images"] as? [String: Int])?["scanned"]
        }
        func affected() async throws -> Int? {
            try Self.object(try await Self.request(.GET, "\(service.base)/v1/findings?id=CVE-2019-14697").body)["images"] as? Int
        }
        #expect(try await scanned() == 3)
        #expect(try await affected() == 2)

        try await Tool.run(["skopeo", "delete", "--tls-verify=false", "docker://\(registry.host)/team/app:1.0"])
        try await Self.eventually("the deleted tags to leave") {
            let tags = [try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0").status,
                try await Self.request(.GET, "\(service.base)/v1/images/team/app/latest").status]
            return tags == [404, 404]
        }
        #expect(try await scanned() == 1)
        #expect(try await affected() == 0)
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/tools/busybox").status == 200)

        // Pushed and deleted at once (a CI job's temporary image): its job ends without a report
        // and without a dead job, however the delete and the scan interleave.
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/ci", tag: "tmp")
        try await Tool.run(["skopeo", "delete", "--tls-verify=false", "docker://\(registry.host)/team/ci:tmp"])
        try await Self.eventually("the temporary image's job to end") {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0 && summary?["done"] == 4
        }
        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
        #expect(summary?["dead"] == 0, "\(summary ?? [:])")
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/team/ci/tmp").status == 404)
        #expect(try await scanned() == 1)
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics", token: nil).body, as: UTF8.self)
        // Both tags of the deleted manifest; the temporary image too when its scan beat its delete.
        let removed = metrics.split(separator: "\n").first { $0.hasPrefix("fathom_images_removed_total ") }.flatMap { Int($0.split(separator: " ")[1]) }
        #expect(removed == 2 || removed == 3, "\(metrics)")
    }

    /// A registry that sends no events: a rescan asks it about every stored tag, those of images
    /// already matched against the current advisories too. One that moved gets a scan job (its
    /// report then says the new image), one deleted leaves the fleet, one where it was stays.
    @Test func aRescanFindsTagsTheRegistryNeverAnnounced() async throws {
        let service = try await Self.startService()
        defer { service.server.stop() }
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        try await registry.push("oci:\(layout.directory):gzip", to: "team/tools", tag: "gone")
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/tools", tag: "stays")
        for image in ["team/app:1.0", "team/tools:gone", "team/tools:stays"] {
            #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(registry.host)/\#(image)"}"#).status == 202)
        }
        func manifest(_ path: String) async throws -> String? {
            let (status, body) = try await Self.request(.GET, "\(service.base)/v1/images/\(path)")
            guard status == 200 else { return nil }
            return (try Self.object(body)["artifact"] as? [String: Any])?["manifestDigest"] as? String
        }
        for path in ["team/app/1.0", "team/tools/gone", "team/tools/stays"] {
            try await Self.eventually("the report of \(path)") { try await manifest(path) != nil }
        }
        let busybox = try #require(try await manifest("team/tools/stays"))
        #expect(try await manifest("team/app/1.0") == layout.gzip.manifestDigest.description)

        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/app", tag: "1.0")
        try await Tool.run(["skopeo", "delete", "--tls-verify=false", "docker://\(registry.host)/team/tools:gone"])
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the moved tag scanned again and the deleted one gone") {
            let gone = try await Self.request(.GET, "\(service.base)/v1/images/team/tools/gone").status
            return try await manifest("team/app/1.0") == busybox && gone == 404
        }
        #expect(try await manifest("team/tools/stays") == busybox)
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics", token: nil).body, as: UTF8.self)
        #expect(metrics.split(separator: "\n").contains("fathom_images_removed_total 1"), "\(metrics)")
        let history = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0/scans")
        let scans = try #require(try JSONSerialization.jsonObject(with: history.body) as? [[String: Any]])
        #expect(Set(scans.compactMap { $0["manifestDigest"] as? String }) == [layout.gzip.manifestDigest.description, busybox])
        try await Self.eventually("the jobs to end") {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0
        }
        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
        #expect(summary?["dead"] == 0, "\(summary ?? [:])")
    }

    /// `fathom rescan` run on the service's store scans a moved tag and stores the scan, not a
    /// report: the service's tag checks then find the tag where its scan is, and only the check
    /// of the report against its newest scan makes the report of the image the tag now names.
    @Test func aReportBehindItsNewestScanIsMadeAgain() async throws {
        let service = try await Self.startService()
        defer { service.server.stop() }
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(registry.host)/team/app:1.0"}"#).status == 202)
        func manifest() async throws -> String? {
            let (status, body) = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0")
            guard status == 200 else { return nil }
            return (try Self.object(body)["artifact"] as? [String: Any])?["manifestDigest"] as? String
        }
        try await Self.eventually("the first report") { try await manifest() == layout.gzip.manifestDigest.description }

        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/app", tag: "1.0")
        let cli = try await Tool.run(
            [Fixtures.fathomExecutable, "rescan", "--store", service.store, "--quiet", "--format", "json"], environment: Fixtures.isolatedEnvironment,
            check: false)
        #expect(cli.status == 0, "\(cli.errorText)")
        let changed = try #require(try Self.object(cli.stdout)["changed"] as? [[String: Any]])
        #expect(changed.first?["moved"] as? Bool == true, "\(changed)")
        // The CLI keeps no reports: the service's is still of the old image.
        #expect(try await manifest() == layout.gzip.manifestDigest.description)

        // A body that asks for less than every image is refused, not read as a rescan of all.
        let scoped = try await Self.request(.POST, "\(service.base)/v1/rescans", body: #"{"repository": "team/app"}"#)
        #expect(scoped.status == 400 && String(decoding: scoped.body, as: UTF8.self).contains("takes no body"))
        // What clients that always send JSON send asks for nothing: taken.
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans", body: "{}").status == 202)
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the report of the image the tag names") {
            let now = try await manifest()
            return now != nil && now != layout.gzip.manifestDigest.description
        }
        try await Self.eventually("the jobs to end") {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0
        }
        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
        #expect(summary?["dead"] == 0, "\(summary ?? [:])")
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics", token: nil).body, as: UTF8.self)
        #expect(metrics.split(separator: "\n").contains("fathom_rescan_scans_queued_total 1"), "\(metrics)")
    }

    /// A moved tag whose scan fails leaves one dead job, not one more at each rescan; also when
    /// its report is behind its newest scan (a CLI rescan moved it on before), which must not
    /// queue a second job of its own.
    @Test func aMovedTagWhoseScanFailedIsNotQueuedAgainByEachRescan() async throws {
        let service = try await Self.startService(arguments: ["--max-attempts", "1"])
        defer { service.server.stop() }
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(registry.host)/team/app:1.0"}"#).status == 202)
        func summary() async throws -> [String: Int] {
            try #require(try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int])
        }
        try await Self.eventually("the first scan") { try await summary()["done"] == 1 }
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/app", tag: "1.0")
        let cli = try await Tool.run(
            [Fixtures.fathomExecutable, "rescan", "--store", service.store, "--quiet"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(cli.status == 0, "\(cli.errorText)")
        // The tag moves on to an image whose layer the registry no longer serves: its scan fails.
        try await registry.push("oci:\(layout.directory):zstd", to: "team/app", tag: "1.0")
        let layer = try #require(layout.zstd.layerDigests.first)
        let deleted = try await Tool.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "http://\(registry.host)/v2/team/app/blobs/\(layer)"])
        #expect(String(decoding: deleted.stdout, as: UTF8.self) == "202")

        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the moved tag's scan to die") { try await summary()["dead"] == 1 }
        try await Self.eventually("the first rescan to end") { try await summary()["done"] == 2 }
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the second rescan to end") { try await summary()["done"] == 3 }
        #expect(try await summary() == ["queued": 0, "running": 0, "done": 3, "dead": 1])
        // The tag held back is the second rescan's one warning.
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics", token: nil).body, as: UTF8.self)
        let warnings = metrics.split(separator: "\n").first { $0.hasPrefix("fathom_rescan_warnings ") }.flatMap { Double($0.split(separator: " ")[1]) }
        #expect(warnings == 1, "\(metrics)")
        // The report is the last one made, and says that the scan since failed.
        var asked = HTTPClientRequest(url: "\(service.base)/v1/images/team/app/1.0")
        asked.headers.add(name: "Authorization", value: "Bearer \(Self.apiToken)")
        let answer = try await Self.client.execute(asked, timeout: .seconds(30))
        #expect(answer.status.code == 200)
        let failure = answer.headers.first(name: "Fathom-Last-Scan-Failed") ?? ""
        #expect(failure.hasPrefix("job ") && failure.contains("BLOB_UNKNOWN"), "\(failure)")
        _ = try await answer.body.collect(upTo: 16 << 20)

        // Mended (the blob pushed again) and scanned by the CLI after the job died: the next
        // rescan makes the report at once, not a week later.
        try await registry.push("oci:\(layout.directory):zstd", to: "team/app", tag: "1.0")
        let mended = try await Tool.run(
            [Fixtures.fathomExecutable, "rescan", "--store", service.store, "--quiet"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(mended.status == 0, "\(mended.errorText)")
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the report of the mended image") {
            let (status, body) = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0")
            return try status == 200 && (Self.object(body)["artifact"] as? [String: Any])?["manifestDigest"] as? String == layout.zstd.manifestDigest
        }
        #expect(try await summary()["dead"] == 1)
        let log = try String(contentsOfFile: service.directory + "/serve.log", encoding: .utf8)
        #expect(log.contains("its scan failed before, not queued again yet"), "\(log.suffix(3000))")
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
        #expect(vulnerabilities.contains { $0["id"] as? String == "CVE-2019-14697" && $0["package"] as? String == "musl" })
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
        // Which images a CVE affects (by alias), and the fleet at a glance.
        let affected = try Self.object(try await Self.request(.GET, "\(service.base)/v1/findings?id=CVE-2019-14697&fixable=true").body)
        let hits = (affected["findings"] as? [[String: Any]] ?? []).map { "\($0["image"]!) \($0["package"]!) \($0["fixedVersion"]!)" }.sorted()
        #expect(hits == ["\(registry.host)/team/app:1.0 musl 1.1.18-r4", "\(registry.host)/team/app:1.0 musl-utils 1.1.18-r4"])
        #expect(affected["images"] as? Int == 1)
        let unfixable = try Self.object(try await Self.request(.GET, "\(service.base)/v1/findings?id=CVE-2019-14697&fixable=false").body)
        #expect(unfixable["count"] as? Int == 0)
        let fleet = try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)
        #expect((fleet["images"] as? [String: Int])?["scanned"] == 2)
        #expect((fleet["mostAtRisk"] as? [[String: Any]])?.first?["name"] as? String == "\(registry.host)/team/app:1.0")

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
        // A known path refuses a method it does not take with 405 (the fuzz run checks `Allow`); an unknown path is 404.
        let refused = try await Self.request(.DELETE, "\(service.base)/v1/jobs")
        #expect(refused.status == 405 && String(decoding: refused.body, as: UTF8.self).contains("use GET"))
        #expect(try await Self.request(.PUT, "\(service.base)/v1/events", token: Self.webhookToken, body: "{}").status == 405)
        #expect(try await Self.request(.GET, "\(service.base)/v1/nothing").status == 404)
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"img\": 1}").status == 400)
        // The cause in words, without fathom's own error codes ("io: unexpected failure").
        let malformed = try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"image\": ")
        let said = String(decoding: malformed.body, as: UTF8.self)
        #expect(malformed.status == 400 && said.contains("the body must be") && !said.contains("unexpected failure"), "\(said)")
        // A registry --registry does not name is refused, as its events are: an API token does
        // not make the service connect wherever it is told.
        let elsewhere = try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "registry.example:5000/team/app:1"}"#)
        #expect(elsewhere.status == 403 && String(decoding: elsewhere.body, as: UTF8.self).contains("not a registry this service scans from"))
        #expect(try await Self.request(.POST, "\(service.base)/v1/events", token: Self.webhookToken, body: "[1,2").status == 400)
        let large = String(repeating: " ", count: 2 << 20)
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"image\": \"x\"}" + large).status == 413)
    }

    /// A webhook receiver on loopback (Python's http.server): checks each delivery's
    /// X-Fathom-Signature with Python's own hmac, answers 500 to the first one (to be retried)
    /// and 200 after, and logs every request as a JSON line.
    static func startReceiver(secret: String, in directory: String) async throws -> (url: String, log: String, server: BackgroundServer) {
        let script = directory + "/receiver.py"
        try #"""
            import hashlib, hmac, json, signal, sys
            from http.server import BaseHTTPRequestHandler, HTTPServer
            # Started from the test process, it may inherit a blocked SIGTERM: it must stop on one.
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            port, secret, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
            seen = []
            class Handler(BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                    verified = hmac.compare_digest(expected, self.headers.get("X-Fathom-Signature", ""))
                    status = 500 if not seen else 200
                    seen.append(1)
                    with open(log, "a") as out:
                        out.write(json.dumps({"delivery": self.headers.get("X-Fathom-Delivery"), "verified": verified,
                                              "event": self.headers.get("X-Fathom-Event"),
                                              "status": status, "body": json.loads(body)}) + "\n")
                    self.send_response(status)
                    self.end_headers()
                def log_message(self, *args):
                    pass
            HTTPServer(("127.0.0.1", port), Handler).serve_forever()
            """#.write(toFile: script, atomically: true, encoding: .utf8)
        let port = try freePort()
        let log = directory + "/deliveries.jsonl"
        let server = try await BackgroundServer("python3 \"$1\" \(port) '\(secret)' '\(log)'", argument: script, port: port)
        return ("http://127.0.0.1:\(port)/hook", log, server)
    }

    /// After an advisory import, the scheduler re-matches the images pushed or pulled within
    /// the rescan window (and only those), updates their reports, and notifies a receiver with a
    /// signed body that it gets again, under the same delivery id, after answering 500.
    @Test func anAdvisoryChangeRescansTheWindowAndNotifiesSigned() async throws {
        let directory = try Fixtures.temporaryDirectory("service-notify")
        let secret = "notify-secret-for-tests"
        try secret.write(toFile: directory + "/notify.secret", atomically: true, encoding: .utf8)
        let receiver = try await Self.startReceiver(secret: secret, in: directory)
        defer { receiver.server.stop() }
        let service = try await Self.startService(arguments: [
            "--notify-url", receiver.url, "--notify-secret-file", directory + "/notify.secret", "--rescan-window", "8s",
        ])
        defer { service.server.stop() }
        let registry = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        try await registry.push("oci:\(layout.directory):gzip", to: "team/idle", tag: "1.0")
        for repository in ["team/app", "team/idle"] {
            try await Self.eventually("the report of \(repository)") {
                try await Self.request(.GET, "\(service.base)/v1/images/\(repository)/1.0").status == 200
            }
        }
        // Out of the 8 s window for both, then team/app is pulled: back in it.
        try await Task.sleep(for: .seconds(9))
        try await Tool.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://\(registry.host)/team/app:1.0", "dir:\(directory)/pulled"])
        try await Self.eventually("the pull event") {
            let database = try SQLiteConnection(path: service.store, mode: .readOnly)
            var pulls = 0
            try database.query("SELECT COUNT(*) FROM registry_events WHERE action = 'pull' AND tag = '1.0'") { pulls = Int($0.integer(0)) }
            return pulls > 0
        }
        let feed = directory + "/feed.json"
        try #"""
            {"id": "TEST-MUSL-1", "modified": "2026-11-29T00:00:00Z", "aliases": ["CVE-2026-0001"],
             "affected": [{"package": {"ecosystem": "Alpine:v3.7", "name": "musl"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.18-r5"}]}]}]}
            """#.write(toFile: feed, atomically: true, encoding: .utf8)
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", service.store, feed], environment: Fixtures.isolatedEnvironment)

        var deliveries: [[String: Any]] = []
        func trigger(_ delivery: [String: Any]) -> String? { (delivery["body"] as? [String: Any])?["trigger"] as? String }
        try await Self.eventually("a delivered notification of the rescan") {
            let lines = (try? String(contentsOfFile: receiver.log, encoding: .utf8))?.split(separator: "\n") ?? []
            deliveries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return deliveries.contains { $0["status"] as? Int == 200 && trigger($0) == "rescan" }
        }
        #expect(deliveries.allSatisfy { $0["verified"] as? Bool == true && $0["event"] as? String == "findings.changed" })
        // The first delivery was refused, and came again unchanged under its id.
        func body(_ delivery: [String: Any]) -> Data? {
            try? JSONSerialization.data(withJSONObject: delivery["body"] ?? [:], options: [.sortedKeys])
        }
        let first = try #require(deliveries.first)
        #expect(first["status"] as? Int == 500 && body(first) != nil)
        let again = deliveries.dropFirst().filter { $0["delivery"] as? String == first["delivery"] as? String }
        #expect(again.count == 1 && again.first?["status"] as? Int == 200 && again.first.flatMap(body) == body(first))
        // Each first push of a vulnerable image is told, every finding new (secdb's musl fixes).
        let pushes = deliveries.filter { trigger($0) == "push" && $0["status"] as? Int == 200 }.compactMap { $0["body"] as? [String: Any] }
        #expect(Set(pushes.compactMap { $0["image"] as? String }) == ["\(registry.host)/team/app:1.0", "\(registry.host)/team/idle:1.0"])
        #expect(pushes.count == 2)
        for push in pushes {
            #expect(push["firstScan"] as? Bool == true)
            let new = push["new"] as? [[String: Any]] ?? []
            #expect(!new.isEmpty && new.allSatisfy { ["musl", "musl-utils"].contains($0["package"] as? String) }, "\(new)")
            // Each named by its CVE, for a receiver that keys on it.
            #expect(new.allSatisfy { ($0["id"] as? String)?.hasPrefix("CVE-") == true }, "\(new)")
            #expect(push["previousManifestDigest"] == nil)
            #expect((push["resolved"] as? [Any])?.isEmpty == true)
        }
        // One notification of the rescan, for the pulled image only.
        let rescans = deliveries.filter { trigger($0) == "rescan" }
        #expect(rescans.count == 1)
        let body = try #require(rescans.last?["body"] as? [String: Any])
        #expect(body["firstScan"] == nil && body["previousManifestDigest"] as? String == body["manifestDigest"] as? String)
        #expect((body["new"] as? [[String: Any]] ?? []).allSatisfy { $0["aliases"] as? [String] == ["CVE-2026-0001"] }, "\(body)")
        #expect(body["image"] as? String == "\(registry.host)/team/app:1.0")
        #expect(body["trigger"] as? String == "rescan")
        #expect(body["deliveryId"] as? String == rescans.last?["delivery"] as? String)
        let new = (body["new"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!)" }.sorted()
        #expect(new == ["TEST-MUSL-1 musl", "TEST-MUSL-1 musl-utils"])
        #expect((body["resolved"] as? [Any])?.isEmpty == true)

        // The pulled image's report and history show the new finding; the idle one is left alone.
        func ids(_ repository: String) async throws -> [String] {
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/\(repository)/1.0").body)
            return (report["vulnerabilities"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        #expect(try await ids("team/app").contains("TEST-MUSL-1"))
        #expect(try await !ids("team/idle").contains("TEST-MUSL-1"))
        // The idle image's report says it was matched against older data and will stay so.
        var idleRequest = HTTPClientRequest(url: "\(service.base)/v1/images/team/idle/1.0")
        idleRequest.headers.add(name: "Authorization", value: "Bearer \(Self.apiToken)")
        let idleReport = try await Self.client.execute(idleRequest, timeout: .seconds(30))
        #expect(idleReport.headers["Fathom-Rescan"].first == "outside-window")
        #expect(idleReport.headers["Fathom-Matched-Against"].first != idleReport.headers["Fathom-Advisory-Data"].first)
        var appRequest = HTTPClientRequest(url: "\(service.base)/v1/images/team/app/1.0")
        appRequest.headers.add(name: "Authorization", value: "Bearer \(Self.apiToken)")
        let appReport = try await Self.client.execute(appRequest, timeout: .seconds(30))
        #expect(appReport.headers["Fathom-Rescan"].isEmpty)
        #expect(appReport.headers["Fathom-Matched-Against"].first == appReport.headers["Fathom-Advisory-Data"].first)
        // The lists say it too: the idle image's findings were matched against older data.
        let listed = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images?repository=team/idle").body)["images"] as? [[String: Any]]
        let idleRow = try #require(listed?.first)
        #expect(idleRow["upToDate"] as? Bool == false && idleRow["matchedAgainst"] as? String == idleReport.headers["Fathom-Matched-Against"].first, "\(idleRow)")
        let appListed = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images?repository=team/app").body)["images"] as? [[String: Any]]
        #expect(appListed?.first?["upToDate"] as? Bool == true, "\(appListed ?? [])")
        let page = String(decoding: try await Self.request(.GET, "\(service.base)/images").body, as: UTF8.self)
        #expect(page.components(separatedBy: "matched against older advisory data").count == 2, "\(page)")
        let history = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0/scans").body)
        let scans = try #require(history as? [[String: Any]])
        #expect(scans.count == 2)
        #expect(scans.first?["new"] as? Int == 2)
        let idle = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/images/team/idle/1.0/scans").body)
        #expect((idle as? [[String: Any]])?.count == 1)
        let done = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/jobs?state=done").body)
        #expect((done as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "rescan" })
    }

    /// Validates `instance` against the schema `component` of an OpenAPI document (JSON or
    /// YAML) with Python's jsonschema; returns the validator's complaints (empty when valid).
    static func schemaErrors(_ instance: Data, component: String, document: String) async throws -> String {
        let directory = try Fixtures.temporaryDirectory("schema")
        try instance.write(to: URL(fileURLWithPath: directory + "/instance.json"))
        let script = """
            import json, sys, yaml, jsonschema
            spec = yaml.safe_load(open(sys.argv[1]))
            schema = {"$ref": "#/components/schemas/" + sys.argv[2], "components": spec["components"]}
            instance = json.load(open(sys.argv[3]))
            errors = list(jsonschema.Draft7Validator(schema).iter_errors(instance))
            print("\\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10]))
            """
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let output = try await Tool.run(
            ["python3", "-c", script, document, component, directory + "/instance.json"], environment: environment, check: false)
        guard output.status == 0 else {
            return "the validator did not run (scripts/test installs it into .build/python-oracle): \(output.errorText)"
        }
        return output.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A multi-platform push: the registry notifies each platform's manifest by digest, then
    /// the index by its tag. The tag's platform (linux/amd64 here) is one fleet image, by its
    /// tag, not also by its digest; the other platform stays, by digest.
    @Test func aMultiPlatformPushIsEachPlatformOnce() async throws {
        let service = try await Self.startService(workers: 1)
        defer { service.server.stop() }
        let registry = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):multi", to: "team/multi", tag: "1", all: true)
        var names: [String] = []
        var rows: [[String: Any]] = []
        try await Self.eventually("the push's scans", seconds: 60) {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            guard summary?["done"] == 3 && summary?["queued"] == 0 && summary?["running"] == 0 else { return false }
            let listed = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images?repository=team/multi").body)
            rows = (listed["images"] as? [[String: Any]]) ?? []
            names = rows.compactMap { $0["image"] as? String }.sorted()
            return names.count <= 2
        }
        #expect(names == ["\(registry.host)/team/multi:1", "\(registry.host)/team/multi@\(layout.zstd.manifestDigest)"], "\(names)")
        // The arm64 platform is Alpine 3.20, which the service's data (Alpine 3.7) does not
        // cover: its row says so, and the dashboard's list beside its name; the 3.7 one is checked.
        let arm = rows.first { ($0["image"] as? String)?.contains("@") == true }
        #expect(arm?["notChecked"] as? [String] == ["no advisory data for Alpine:v3.20"], "\(arm ?? [:])")
        #expect(rows.first { ($0["image"] as? String)?.hasSuffix(":1") == true }?["notChecked"] == nil)
        let list = String(decoding: try await Self.request(.GET, "\(service.base)/images?repository=team/multi").body, as: UTF8.self)
        #expect(list.contains("not checked: no advisory data for Alpine:v3.20"), "\(list)")

        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)
        #expect((summary["images"] as? [String: Any])?["scanned"] as? Int == 2, "\(summary["images"] ?? "")")

        // A scan asked for by digest is the user's: it stays beside the tag's report.
        let pinned = "\(registry.host)/team/multi@\(layout.gzip.manifestDigest)"
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(pinned)"}"#).status == 202)
        try await Self.eventually("the pinned scan", seconds: 60) {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["done"] == 4 && summary?["queued"] == 0 && summary?["running"] == 0
        }
        let listed = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images?repository=team/multi").body)
        #expect(((listed["images"] as? [[String: Any]]) ?? []).compactMap { $0["image"] as? String }.contains(pinned), "\(listed)")
        let after = try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)
        #expect((after["images"] as? [String: Any])?["scanned"] as? Int == 3, "\(after["images"] ?? "")")
    }

    /// The served OpenAPI document is valid OpenAPI 3.0, and the API's answers match it.
    @Test func theOpenAPIDocumentIsValidAndDescribesTheAnswers() async throws {
        let service = try await Self.startService(workers: 1)
        defer { service.server.stop() }
        let registry = try await LocalRegistry(notify: ("\(service.base)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        try await Self.eventually("the report") { try await Self.request(.GET, "\(service.base)/v1/images/team/app/1.0").status == 200 }

        let document = service.directory + "/openapi.json"
        try (try await Self.request(.GET, "\(service.base)/openapi.json", token: nil)).body.write(to: URL(fileURLWithPath: document))
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let valid = try await Tool.run(
            ["python3", "-c", "import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')", document],
            environment: environment, check: false)
        #expect(valid.status == 0 && valid.text.contains("valid"), "\(valid.errorText)")
        for (path, component, array) in [
            ("/v1/images/team/app/1.0", "Report", false), ("/v1/images/team/app/1.0/scans", "ScanSummary", true),
            ("/v1/jobs", "Job", true), ("/v1/jobs/summary", "JobSummary", false), ("/v1/images/team/app/2.0", "Error", false),
            ("/v1/findings?id=CVE-2019-14697", "Findings", false), ("/v1/fleet/summary", "FleetSummary", false),
            ("/v1/findings?fixable=maybe", "Error", false), ("/v1/images", "Images", false),
            ("/healthz", "Error", false),
        ] {
            let body = try await Self.request(.GET, service.base + path).body
            let instances: [Data] =
                array ? try (JSONSerialization.jsonObject(with: body) as? [Any] ?? []).map { try JSONSerialization.data(withJSONObject: $0) } : [body]
            #expect(!instances.isEmpty, "\(path)")
            for instance in instances {
                let errors = try await Self.schemaErrors(instance, component: component, document: document)
                // /healthz answers a status, not an error: the check must be able to fail.
                if path == "/healthz" { #expect(!errors.isEmpty) } else { #expect(errors.isEmpty, "\(path): \(errors)") }
            }
        }

        // schemathesis fuzzes every operation from the served document: no 5xx, no answer the
        // document does not describe, bad input refused, valid input taken, and 405 with `Allow`
        // for a method the document does not list.
        let fuzz = try await Tool.run(
            [
                "python3", "-c", "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())", "run",
                "\(service.base)/openapi.json", "-H", "Authorization: Bearer \(Self.apiToken)", "--checks", "all", "--max-examples", "25", "--workers", "1", "--seed", "1",
            ], environment: environment, check: false, directory: service.directory)  // its .schemathesis cache stays out of the checkout
        #expect(fuzz.status == 0, "\(fuzz.text.suffix(6000))\(fuzz.errorText.suffix(2000))")
    }

    /// Harbor's scanner adapter API: metadata, a scan with the registry credentials Harbor
    /// sends (sealed with the job, never stored in plain text), 302 + Refresh-After until the report is
    /// ready, then a report valid by the adapter spec's own schema.
    @Test func harborAdapterScansWithTheCredentialsItIsGivenAndReportsBySpec() async throws {
        let (user, password) = ("robot$harbor", "harbor-robot-secret-1")
        let registry = try await LocalRegistry(auth: .htpasswd(username: user, password: password))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "library/alpine", tag: "3.7", credentials: (user, password))
        let service = try await Self.startService(workers: 1)
        defer { service.server.stop() }
        // NVD's records too, for the scores Harbor reads.
        let nvd = try await AdvisoryCLITests.nvdFeedFile(in: service.directory)
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", service.store, nvd], environment: Fixtures.isolatedEnvironment)
        let specs = ["1.1", "1.2"].map { Fixtures.root.appendingPathComponent("schemas/harbor/scanner-adapter-openapi-v\($0).yaml").path }

        let metadata = try await Self.request(.GET, "\(service.base)/api/v1/metadata")
        #expect(metadata.status == 200)
        for spec in specs {
            #expect(try await Self.schemaErrors(metadata.body, component: "ScannerAdapterMetadata", document: spec).isEmpty, "\(spec)")
        }
        #expect(try await Self.request(.GET, "\(service.base)/api/v1/metadata", token: nil).status == 401)

        func scan(authorization: String) async throws -> String {
            let body = """
                {"registry": {"url": "http://\(registry.host)", "authorization": "\(authorization)"},
                 "artifact": {"repository": "library/alpine", "digest": "\(layout.gzip.manifestDigest)", "tag": "3.7",
                              "mime_type": "application/vnd.oci.image.manifest.v1+json"}}
                """
            let response = try await Self.request(.POST, "\(service.base)/api/v1/scan", body: body)
            #expect(response.status == 202)
            return try #require(try Self.object(response.body)["id"] as? String)
        }
        let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        let id = try await scan(authorization: basic)
        var statuses: [Int] = []
        var report = Data()
        try await Self.eventually("the Harbor report") {
            var request = HTTPClientRequest(url: "\(service.base)/api/v1/scan/\(id)/report")
            request.headers.add(name: "Authorization", value: "Bearer \(Self.apiToken)")
            request.headers.add(name: "Accept", value: "application/vnd.security.vulnerability.report; version=1.1")
            let response = try await Self.client.execute(request, timeout: .seconds(30))
            statuses.append(Int(response.status.code))
            if response.status.code == 302 { #expect(response.headers["Refresh-After"].first == "2") }
            if response.status.code == 200 {
                #expect(response.headers["Content-Type"].first == "application/vnd.security.vulnerability.report; version=1.1")
            }
            report = Data(try await response.body.collect(upTo: 16 << 20).readableBytesView)
            return response.status.code == 200
        }
        #expect(Set(statuses).isSubset(of: [302, 200]))
        for spec in specs {
            let errors = try await Self.schemaErrors(report, component: "HarborVulnerabilityReport", document: spec)
            #expect(errors.isEmpty, "\(spec): \(errors)")
        }
        let document = try Self.object(report)
        let vulnerabilities = document["vulnerabilities"] as? [[String: Any]] ?? []
        #expect(vulnerabilities.contains { $0["package"] as? String == "musl" && $0["version"] as? String == "1.1.18-r3" && $0["fix_version"] != nil })
        #expect((document["artifact"] as? [String: Any])?["digest"] as? String == layout.gzip.manifestDigest.description)
        // The same report is the service's own for that image.
        #expect(try await Self.request(.GET, "\(service.base)/v1/images/library/alpine/\(layout.gzip.manifestDigest)").status == 200)

        // Wrong credentials: the scan fails with a message; an unknown id is 404.
        let refused = try await scan(authorization: "Basic " + Data("\(user):wrong".utf8).base64EncodedString())
        try await Self.eventually("the failed scan") {
            try await Self.request(.GET, "\(service.base)/api/v1/scan/\(refused)/report").status == 500
        }
        #expect(try await Self.request(.GET, "\(service.base)/api/v1/scan/no-such-id/report").status == 404)

        // Harbor keys its CVE views and allowlists by id: an advisory naming one CVE is that CVE,
        // its own id in the vendor attributes; the scores are where Harbor's UI reads them.
        let musl = try #require(vulnerabilities.first { $0["package"] as? String == "musl" && $0["id"] as? String == "CVE-2019-14697" }, "\(vulnerabilities)")
        let vendor = try #require(musl["vendor_attributes"] as? [String: Any])
        #expect((vendor["advisory"] as? String)?.hasSuffix("CVE-2019-14697") == true && vendor["advisory"] as? String != "CVE-2019-14697", "\(vendor)")
        try #require(vulnerabilities.contains { ($0["preferred_cvss"] as? [String: Any])?["score_v3"] is Double }, "a finding with a CVSS v3 score")
        for vulnerability in vulnerabilities {
            let attributes = vulnerability["vendor_attributes"] as? [String: Any] ?? [:]
            if let cvss = vulnerability["preferred_cvss"] as? [String: Any], let v3 = cvss["score_v3"] as? Double {
                let scores = (attributes["CVSS"] as? [String: [String: Any]] ?? [:]).values.compactMap { $0["V3Score"] as? Double }
                #expect(scores.contains(v3), "\(vulnerability)")
            }
        }

        // A request with other credentials is its own scan, never merged into one that uses the
        // earlier (Harbor deletes a stopped scan's robot account).
        let stale = try await scan(authorization: "Basic " + Data("\(user):deleted".utf8).base64EncodedString())
        let fresh = try await scan(authorization: basic)
        #expect(stale != fresh)
        try await Self.eventually("the scan with the good credentials") {
            try await Self.request(.GET, "\(service.base)/api/v1/scan/\(fresh)/report").status == 200
        }
        // What fathom cannot do is said at once: an index, a Helm chart, an SBOM-only request
        // (501); a URL that is no registry's and a tag that is no tag (422).
        func post(_ artifact: String, url: String = "http://\(registry.host)", extra: String = "") async throws -> (status: Int, body: Data) {
            try await Self.request(.POST, "\(service.base)/api/v1/scan", body: """
                {"registry": {"url": "\(url)", "authorization": "\(basic)"},
                 "artifact": {"repository": "library/alpine", "digest": "\(layout.gzip.manifestDigest)", \(artifact)}\(extra)}
                """)
        }
        for (artifact, extra, status) in [
            (#""mime_type": "application/vnd.oci.image.index.v1+json""#, "", 501),
            (#""mime_type": "application/vnd.cncf.helm.config.v1+json""#, "", 501),
            (#""tag": "3.7""#, #", "enabled_capabilities": [{"type": "sbom"}]"#, 501),
            (#""tag": "bad tag!""#, "", 422),
        ] {
            let answer = try await post(artifact, extra: extra)
            #expect(answer.status == status, "\(artifact) \(extra): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
        let ftp = try await post(#""tag": "3.7""#, url: "ftp://\(registry.host)")
        #expect(ftp.status == 422 && String(decoding: ftp.body, as: UTF8.self).contains("http:// or https://"))
        // A registry --registry does not name is refused, as POST /v1/scans refuses it: the API
        // token must not make fathom fetch from any host; a URL with a path is no registry's address.
        let elsewhere = try await post(#""tag": "3.7""#, url: "https://harbor.evil.example")
        #expect(elsewhere.status == 422 && String(decoding: elsewhere.body, as: UTF8.self).contains("harbor.evil.example is not a registry this service scans from"),
            "\(String(decoding: elsewhere.body, as: UTF8.self))")
        let withPath = try await post(#""tag": "3.7""#, url: "http://\(registry.host)/some/path")
        #expect(withPath.status == 422 && String(decoding: withPath.body, as: UTF8.self).contains("with no path"))
        #expect(try await post(#""tag": "3.7""#, url: "http://\(registry.host)/").status == 202)
        // A digest the registry does not have is a failed scan at once, not after every attempt.
        let missing = try await Self.request(.POST, "\(service.base)/api/v1/scan", body: """
            {"registry": {"url": "http://\(registry.host)", "authorization": "\(basic)"},
             "artifact": {"repository": "library/alpine", "digest": "sha256:\(String(repeating: "0", count: 64))"}}
            """)
        let missingID = try #require(try Self.object(missing.body)["id"] as? String)
        try await Self.eventually("the scan of a missing digest failed", seconds: 20) {
            try await Self.request(.GET, "\(service.base)/api/v1/scan/\(missingID)/report").status == 500
        }
        #expect(try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/\(missingID)").body)["attempts"] as? Int == 1)
        // A report type fathom does not make is 501, whatever the scan's state (here a dead
        // one's); no Accept is the 1.1 report.
        func fetchReport(_ id: String = id, accept: String?) async throws -> (status: UInt, type: String?) {
            var request = HTTPClientRequest(url: "\(service.base)/api/v1/scan/\(id)/report")
            request.headers.add(name: "Authorization", value: "Bearer \(Self.apiToken)")
            if let accept { request.headers.add(name: "Accept", value: accept) }
            let response = try await Self.client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 << 20)
            return (response.status.code, response.headers["Content-Type"].first)
        }
        #expect(try await fetchReport(accept: "application/vnd.security.sbom.report+json; version=1.0").status == 501)
        #expect(try await fetchReport(accept: "application/vnd.scanner.adapter.vuln.report.raw").status == 501)
        #expect(try await fetchReport(missingID, accept: "application/spdx+json").status == 501)
        let plain = try await fetchReport(accept: nil)
        #expect(plain.status == 200 && plain.type == "application/vnd.security.vulnerability.report; version=1.1")
        #expect(try await fetchReport(accept: "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0").type
            == "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0")

        // Nothing of the credentials reached the store.
        service.server.stop()
        for file in try FileManager.default.contentsOfDirectory(atPath: service.directory) where file.hasPrefix("fathom.db") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: service.directory + "/" + file))
            #expect(bytes.range(of: Data(password.utf8)) == nil, "\(file) holds the registry password")
        }
    }

    /// The service judges by the same engine as the CLI: under one ignore file and VEX document,
    /// `scan`, `registry -o DIR` and the service's stored report give the same live and
    /// suppressed findings. A changed VEX file applies at the next rescan; a scan request's own
    /// policy applies to its image and stays with its report.
    @Test(arguments: ["sqlite", "postgres"]) func theServiceAppliesThePolicyAsTheCLIDoes(_ backend: String) async throws {
        let database: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("policy") : nil
        let directory = try Fixtures.temporaryDirectory("service-policy")
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1")
        let image = "\(registry.host)/team/app:1"
        func vex(_ products: String) -> String {
            """
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/3", "author": "fathom tests",
             "timestamp": "2026-11-29T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "status": "not_affected",
                             "justification": "vulnerable_code_not_in_execute_path", "products": \(products)}]}
            """
        }
        try vex(#"[{"@id": "\#(image)", "subcomponents": [{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]}]"#)
            .write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        try "CVE-2018-0000 pkg:busybox\n".write(toFile: directory + "/ignore", atomically: true, encoding: .utf8)
        let policy = ["--ignore-file", directory + "/ignore", "--vex", directory + "/vex.json"]
        func sets(_ document: [String: Any]) -> (live: Set<String>, suppressed: Set<String>) {
            func keys(_ key: String) -> Set<String> {
                Set((document[key] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "") \($0["package"] ?? "")" })
            }
            return (keys("vulnerabilities"), keys("suppressed"))
        }

        let service = try await Self.startService(workers: 1, store: database, arguments: policy)
        defer { service.server.stop() }
        let queued = try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#)
        #expect(queued.status == 202)
        var stored: [String: Any] = [:]
        try await Self.eventually("the report of \(image)") {
            let (status, body) = try await Self.request(.GET, "\(service.base)/v1/images/team/app/1")
            if status == 200 { stored = try Self.object(body) }
            return status == 200
        }
        let fromService = sets(stored)
        #expect(fromService.suppressed.contains { $0.hasSuffix(" musl-utils") })
        #expect(fromService.live.contains { $0.hasSuffix(" musl") })
        #expect((stored["suppressed"] as? [[String: Any]] ?? []).allSatisfy { ($0["rule"] as? String)?.contains("vex.json (OpenVEX) statement 1") == true })

        // The CLI, on a store of its own with the same advisories and the same files.
        let cliStore = directory + "/cli.db"
        let fathom = Fixtures.fathomExecutable
        try await Tool.run([fathom, "db", "import", "--store", cliStore, AdvisoryCLITests.secdb("v3.7")], environment: Fixtures.isolatedEnvironment)
        let scanned = try await Tool.run([fathom, "scan", image, "--store", cliStore, "-f", "json"] + policy, environment: Fixtures.isolatedEnvironment)
        let fromScan = sets(try Self.object(scanned.stdout))
        #expect(fromScan.live == fromService.live)
        #expect(fromScan.suppressed == fromService.suppressed)
        try await Tool.run(
            [fathom, "registry", registry.host, "--repo", "team/app", "--store", cliStore, "-f", "json", "-o", directory + "/reports", "--quiet"] + policy,
            environment: Fixtures.isolatedEnvironment)
        let file = directory + "/reports/" + image.map { "/:@".contains($0) ? "_" : $0 }.reduce(into: "") { $0.append($1) } + ".json"
        let fromRegistry = sets(try Self.object(try Data(contentsOf: URL(fileURLWithPath: file))))
        #expect(fromRegistry.live == fromService.live)
        #expect(fromRegistry.suppressed == fromService.suppressed)

        // A request's VEX statement, in OpenVEX's shape, suppresses as a file's would.
        let accepted = try await Self.request(
            .POST, "\(service.base)/v1/scans",
            body: #"{"image": "\#(image)", "policy": {"vex": [{"vulnerability": "CVE-2019-14697", "status": "not_affected", "products": ["pkg:apk/alpine/musl@1.1.18-r3"]}]}}"#)
        #expect(accepted.status == 202)
        try await Self.eventually("the report under the request's VEX statement") {
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1").body)
            return (report["suppressed"] as? [[String: Any]] ?? []).contains { $0["rule"] as? String == "the request's VEX statement 1" && $0["package"] as? String == "musl" }
        }

        // The VEX file changes to cover the whole image: the next rescan applies it, nothing read again.
        try vex(#"[{"@id": "\#(image)"}]"#).write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        #expect(try await Self.request(.POST, "\(service.base)/v1/rescans").status == 202)
        try await Self.eventually("the rescan applying the new VEX") {
            // musl's finding, suppressed by the request's statement until now, is the file's now (the service's statements come first).
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1").body)
            return (report["suppressed"] as? [[String: Any]] ?? []).contains {
                $0["package"] as? String == "musl" && ($0["rule"] as? String)?.contains("vex.json (OpenVEX) statement 1") == true
            }
        }

        // A request's own policy: only CRITICAL (none here: secdb rates nothing), kept with the report.
        let strict = try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)", "policy": {"severity": ["CRITICAL"]}}"#)
        #expect(strict.status == 202)
        try await Self.eventually("the report under the request's policy") {
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1").body)
            return (report["requestPolicy"] as? [String: Any])?["severity"] as? [String] == ["CRITICAL"]
                && (report["vulnerabilities"] as? [Any])?.isEmpty == true
        }
        // The image list says its counts are what the policy let through.
        let row = (try Self.object(try await Self.request(.GET, "\(service.base)/v1/images?repository=team/app").body)["images"] as? [[String: Any]])?.first
        #expect(row?["policyLeftFindingsOut"] as? Bool == true && row?["findings"] as? Int == 0, "\(row ?? [:])")
        #expect(String(decoding: try await Self.request(.GET, "\(service.base)/images").body, as: UTF8.self).contains("findings left out by policy"))
        let bad = try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)", "policy": {"severity": ["SEVERE"]}}"#)
        #expect(bad.status == 400)
        #expect(String(decoding: bad.body, as: UTF8.self).contains("severity"))
        let noProduct = try await Self.request(
            .POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)", "policy": {"vex": [{"vulnerability": "CVE-1", "status": "fixed", "products": []}]}}"#)
        #expect(noProduct.status == 400)
        #expect(String(decoding: noProduct.body, as: UTF8.self).contains("the request's VEX statement 1 names no product"))
        let badDay = try await Self.request(
            .POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)", "policy": {"ignore": [{"id": "CVE-1", "expires": "2026-02-30"}]}}"#)
        #expect(badDay.status == 400)
        #expect(String(decoding: badDay.body, as: UTF8.self).contains("'2026-02-30' is not a date"))
        // A rule fathom does not know is refused, not scanned without (it would be silently so).
        for (body, said) in [
            (#"{"image": "\#(image)", "severity": ["HIGH"]}"#, "the body has no member 'severity' (it takes image and policy; a rule goes in policy)"),
            (#"{"image": "\#(image)", "policy": {"ignore_unfixed": true}}"#, "policy has no member 'ignore_unfixed': it takes severity, ignoreUnfixed"),
            (#"{"image": "\#(image)", "policy": {"severity": "HIGH,CRITICAL"}}"#, "policy.severity must be an array such as"),
            (#"{"image": "\#(image)", "policy": {"ignore": [{"id": "CVE-1", "expiry": "2026-01-01"}]}}"#, "policy.ignore[0] has no member 'expiry': it takes id, package, expires"),
        ] {
            let refused = try await Self.request(.POST, "\(service.base)/v1/scans", body: body)
            #expect(refused.status == 400 && String(decoding: refused.body, as: UTF8.self).contains(said), "\(String(decoding: refused.body, as: UTF8.self))")
        }
    }

    /// A job the service gave up on counts as a failure in the fleet summary and on the
    /// dashboard, with its last error (not "0 failed" while jobs are dead).
    @Test func deadJobsAreFailuresInTheFleetSummary() async throws {
        let directory = try Fixtures.temporaryDirectory("service-dead")
        try "dead-secret".write(toFile: directory + "/notify.secret", atomically: true, encoding: .utf8)
        let receiver = try await Self.startReceiver(secret: "dead-secret", in: directory)
        defer { receiver.server.stop() }
        // A receiver that takes the connection and never answers (each try waits out the 10 s
        // read timeout), named first, holds the other back not at all.
        let hangingPort = try freePort()
        let hanging = try await BackgroundServer(
            // Started from the test process, it may inherit a blocked SIGTERM: it must stop on one.
            #"python3 -c 'import signal, socket, sys, time; signal.pthread_sigmask(signal.SIG_SETMASK, []); s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(3600)' "$1""#,
            argument: "\(hangingPort)", port: hangingPort)
        defer { hanging.stop() }
        let service = try await Self.startService(
            workers: 1,
            arguments: [
                "--max-attempts", "1", "--notify-url", "http://127.0.0.1:\(hangingPort)/hook?token=hush", "--notify-url", receiver.url,
                "--notify-secret-file", directory + "/notify.secret",
            ])
        defer { service.server.stop() }
        let image = "127.0.0.1:1/nothing/here:1"
        #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#).status == 202)
        try await Self.eventually("the job to die") {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["dead"] == 1
        }
        let fleet = try Self.object(try await Self.request(.GET, "\(service.base)/v1/fleet/summary").body)
        #expect((fleet["images"] as? [String: Int])?["failed"] == 1)
        let failures = fleet["failures"] as? [[String: Any]] ?? []
        #expect(failures.first?["name"] as? String == image)
        #expect((failures.first?["reason"] as? String)?.contains("connection refused") == true, "\(failures)")
        let page = String(decoding: try await Self.request(.GET, "\(service.base)/").body, as: UTF8.self)
        #expect(page.contains(image) && page.contains("connection refused"))
        // The receivers hear of it: `scan.failed`, with the job and its error (once accepted,
        // at its second try a second later).
        let died = Date()
        var deliveries: [[String: Any]] = []
        try await Self.eventually("the failure's notification", seconds: 60) {
            let lines = (try? String(contentsOfFile: receiver.log, encoding: .utf8))?.split(separator: "\n") ?? []
            deliveries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return deliveries.contains { $0["status"] as? Int == 200 }
        }
        // Held behind the hanging one, it would come after two of its 10 s timeouts.
        #expect(Date().timeIntervalSince(died) < 15, "the hanging receiver held the other back \(Date().timeIntervalSince(died)) s")
        #expect(Set(deliveries.compactMap { $0["delivery"] as? String }).count == 1, "\(deliveries)")
        let delivered = try #require(deliveries.last)
        #expect(delivered["event"] as? String == "scan.failed" && delivered["verified"] as? Bool == true)
        let body = try #require(delivered["body"] as? [String: Any])
        #expect(body["event"] as? String == "scan.failed" && body["trigger"] as? String == "request")
        #expect(body["image"] as? String == image && body["attempts"] as? Int == 1 && body["job"] is Int)
        #expect((body["error"] as? String)?.contains("connection refused") == true, "\(body)")
        // The hanging receiver is named in the log, once its try timed out, without its path and query.
        try await Self.eventually("the hanging receiver's timeout", seconds: 30) {
            ((try? String(contentsOfFile: service.directory + "/serve.log", encoding: .utf8)) ?? "").contains("http://127.0.0.1:\(hangingPort)/…")
        }
        let log = (try? String(contentsOfFile: service.directory + "/serve.log", encoding: .utf8)) ?? ""
        #expect(log.contains("notification not delivered") && !log.contains("hush"), "\(log.suffix(2000))")
        // The hanging receiver's notification is the backlog the metrics show.
        let metrics = String(decoding: try await Self.request(.GET, "\(service.base)/metrics").body, as: UTF8.self)
        #expect(metrics.contains("fathom_notifications_waiting 1.0\n"), "\(metrics)")
    }

    /// A scan request for a tag or repository the registry says it does not have is dead after
    /// its first attempt, with the registry's own code, not retried for a minute and more (the
    /// default five attempts, 5 s of backoff doubling).
    @Test func aRequestForAnImageTheRegistryDoesNotHaveDiesAtOnce() async throws {
        let service = try await Self.startService(workers: 1)
        defer { service.server.stop() }
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "1.0")
        for image in ["\(registry.host)/team/app:1.O", "\(registry.host)/team/ap:1.0"] {
            #expect(try await Self.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#).status == 202)
        }
        try await Self.eventually("both jobs to die", seconds: 20) {
            try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int] == [
                "queued": 0, "running": 0, "done": 0, "dead": 2,
            ]
        }
        let dead = try #require(try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/jobs?state=dead").body) as? [[String: Any]])
        #expect(dead.count == 2)
        for job in dead {
            #expect(job["attempts"] as? Int == 1, "\(job)")
            let error = job["lastError"] as? String ?? ""
            #expect(error.contains("MANIFEST_UNKNOWN") || error.contains("NAME_UNKNOWN"), "\(error)")
        }
        // Each job's requests carry its own id in the registry's access log.
        for job in dead {
            let id = try #require(job["id"] as? Int)
            #expect(registry.logLines().contains { $0.contains("fathom/") && $0.contains("(scan job-\(id))") }, "job \(id)")
        }
    }

    /// Harbor's scans are queue jobs: one replica (`serve --workers 0`) takes the request with a
    /// `Bearer` registry token, a `fathom worker` sharing the credential key scans, and another
    /// replica answers the report poll. The token never reaches the store in plain text.
    @Test func harborScansAreJobsAnyReplicaAnswers() async throws {
        let (user, password) = ("robot$harbor", "harbor-robot-secret-2")
        let tokens = try await TokenServer(username: user, password: password)
        let registry = try await LocalRegistry(
            auth: .token(realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certificatePath: tokens.certificatePath))
        defer { registry.stop() }
        let layout = try await TestImages.layout()
        try await registry.push("oci:\(layout.directory):gzip", to: "library/alpine", tag: "3.7", credentials: (user, password))
        // The token Harbor would hand over: one pull scope, from the registry's own token service.
        let issued = try await Tool.run([
            "curl", "-sf", "-u", "\(user):\(password)", "\(tokens.realm)?service=\(tokens.service)&scope=repository:library/alpine:pull",
        ])
        let token = try #require(try Self.object(issued.stdout)["token"] as? String)
        let keyDirectory = try Fixtures.temporaryDirectory("harbor-key")
        try "a shared secret for harbor credentials".write(toFile: keyDirectory + "/key", atomically: true, encoding: .utf8)
        let key = ["--harbor-credential-key-file", keyDirectory + "/key"]

        let first = try await Self.startService(workers: 0, arguments: key)
        defer { first.server.stop() }
        let second = try await Self.startService(workers: 0, store: first.store, arguments: key)
        defer { second.server.stop() }
        let worker = try Self.startWorker("harbor-worker", service: first, registry: registry.host, arguments: key)
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }

        let body = """
            {"registry": {"url": "http://\(registry.host)", "authorization": "Bearer \(token)"},
             "artifact": {"repository": "library/alpine", "digest": "\(layout.gzip.manifestDigest)", "tag": "3.7",
                          "mime_type": "application/vnd.oci.image.manifest.v1+json"}}
            """
        let accepted = try await Self.request(.POST, "\(first.base)/api/v1/scan", body: body)
        #expect(accepted.status == 202)
        let id = try #require(try Self.object(accepted.body)["id"] as? String)
        var report: [String: Any] = [:]
        try await Self.eventually("the Harbor report from the other replica") {
            let (status, data) = try await Self.request(.GET, "\(second.base)/api/v1/scan/\(id)/report")
            if status == 200 { report = try Self.object(data) }
            return status == 200
        }
        let vulnerabilities = report["vulnerabilities"] as? [[String: Any]] ?? []
        #expect(vulnerabilities.contains { $0["package"] as? String == "musl" && $0["version"] as? String == "1.1.18-r3" })
        // One image in the fleet, under the name the webhook would give it.
        let fleet = try Self.object(try await Self.request(.GET, "\(first.base)/v1/fleet/summary").body)
        #expect((fleet["images"] as? [String: Int])?["scanned"] == 1)
        #expect(try await Self.request(.GET, "\(first.base)/v1/images/library/alpine/3.7").status == 200)
        try await tokens.stop()
        first.server.stop()
        second.server.stop()
        kill(worker.processIdentifier, SIGTERM)
        await worker.exited()
        for file in try FileManager.default.contentsOfDirectory(atPath: first.directory) where file.hasPrefix("fathom.db") {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: first.directory + "/" + file))
            #expect(bytes.range(of: Data(token.utf8)) == nil, "\(file) holds the registry token")
        }
    }

    /// Harbor asks for a digest under the tag it had then; the scan fails once, and while it
    /// waits out its retry, a later push of the tag is scanned. The retry keeps its report under
    /// the digest's name: the tag's report stays the push's, and Harbor still gets the report of
    /// the digest it asked for.
    @Test func aHarborRetryAfterALaterPushLeavesTheTagToThePush() async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        let layout = try await TestImages.layout()
        let (asked, pushed) = (layout.gzip.manifestDigest, layout.zstd.manifestDigest)
        try await registry.push("oci:\(layout.directory):gzip", to: "team/app", tag: "before")
        try await registry.push("oci:\(layout.directory):zstd", to: "team/app", tag: "1")
        proxy.inject(.status(404), pathContains: "/manifests/\(asked)", times: 1)
        let service = try await Self.startService(workers: 1, arguments: ["--registry", proxy.host])
        defer { service.server.stop() }
        let body = """
            {"registry": {"url": "http://\(proxy.host)"},
             "artifact": {"repository": "team/app", "digest": "\(asked)", "tag": "1", "mime_type": "application/vnd.oci.image.manifest.v1+json"}}
            """
        let accepted = try await Self.request(.POST, "\(service.base)/api/v1/scan", body: body)
        #expect(accepted.status == 202)
        let id = try #require(try Self.object(accepted.body)["id"] as? String)
        func job(_ id: String) async throws -> [String: Any] { try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/\(id)").body) }
        try await Self.eventually("the Harbor scan's first attempt failed", seconds: 30) {
            let harbor = try await job(id)
            return harbor["state"] as? String == "queued" && harbor["attempts"] as? Int == 1
        }
        // Within its backoff (5 s), the push of the tag is scanned.
        let queued = try Self.object(try await Self.request(.POST, "\(service.base)/v1/scans", body: "{\"image\": \"\(proxy.host)/team/app:1\"}").body)
        let push = try #require(queued["job"] as? Int)
        try await Self.eventually("the push scanned", seconds: 30) { try await job("\(push)")["state"] as? String == "done" }
        #expect(try await job(id)["state"] as? String == "queued", "the push ran while the Harbor scan waited")
        var report: [String: Any] = [:]
        try await Self.eventually("the Harbor report", seconds: 60) {
            let (status, data) = try await Self.request(.GET, "\(service.base)/api/v1/scan/\(id)/report")
            if status == 200 { report = try Self.object(data) }
            return status == 200
        }
        #expect((report["artifact"] as? [String: Any])?["digest"] as? String == asked.description, "\(report["artifact"] ?? "")")
        let tag = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/team/app/1").body)
        #expect((tag["artifact"] as? [String: Any])?["manifestDigest"] as? String == pushed.description, "\(tag["artifact"] ?? "")")
    }

    /// `fathom serve --workers 0` queues, two `fathom worker` processes scan; one is killed
    /// (SIGKILL) while it holds a job. Its job returns to the queue when the lease runs out and
    /// is done by the other: every pushed image has exactly one scan, nothing is left queued,
    /// running or dead, and the surviving worker stops cleanly on SIGTERM.
    @Test(arguments: ["sqlite", "postgres"]) func aWorkerKilledMidScanLosesNoJob(_ backend: String) async throws {
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("workers") : nil
        let port = try freePort()
        let registry = try await LocalRegistry(notify: ("http://127.0.0.1:\(port)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        // Scans go through a slow proxy (2 s per manifest), so a worker is caught holding a job.
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.seconds(2)), pathContains: "/manifests/", times: 1000)
        let service = try await Self.startService(workers: 0, port: port, store: store, arguments: ["--registry", proxy.host])
        defer { service.server.stop() }
        // One job at a time each: with a batch of 8, the first worker to claim could take all six.
        let doomed = try Self.startWorker("worker-a", service: service, registry: proxy.host, arguments: ["--batch", "1"])
        let survivor = try Self.startWorker("worker-b", service: service, registry: proxy.host, arguments: ["--batch", "1"])
        defer { if doomed.isRunning { kill(doomed.processIdentifier, SIGKILL) } }
        defer { if survivor.isRunning { kill(survivor.processIdentifier, SIGKILL) } }

        let layout = try await TestImages.layout()
        let repositories = (0..<6).map { "team/w\($0)" }
        for (index, repository) in repositories.enumerated() {
            try await registry.push(index.isMultiple(of: 2) ? "oci:\(layout.directory):gzip" : "oci:\(TestImages.busyboxMusl)", to: repository, tag: "1")
        }
        var held: String?
        try await Self.eventually("worker A to hold a job", seconds: 30) {
            let jobs = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/jobs?state=running").body)
            held = (jobs as? [[String: Any]] ?? []).first { ($0["worker"] as? String)?.contains("/\(doomed.processIdentifier)/") == true }?["image"] as? String
            return held != nil
        }
        kill(doomed.processIdentifier, SIGKILL)
        await doomed.exited()
        #expect(held != nil)

        try await Self.eventually("the queue to drain", seconds: 90) {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0 && (summary?["done"] ?? 0) + (summary?["dead"] ?? 0) == repositories.count
        }
        let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body)
        #expect(summary as? [String: Int] == ["queued": 0, "running": 0, "done": repositories.count, "dead": 0])
        for repository in repositories {
            let report = try Self.object(try await Self.request(.GET, "\(service.base)/v1/images/\(repository)/1").body)
            let digest = (report["artifact"] as? [String: Any])?["manifestDigest"] as? String
            let history = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/images/\(repository)/1/scans").body)
            let scans = history as? [[String: Any]] ?? []
            #expect(scans.count == 1, "\(repository): \(scans.count) scans")
            #expect(digest != nil && scans.first?["manifestDigest"] as? String == digest, "\(repository)")
        }
        // The job the killed worker held was taken again, by the survivor.
        let done = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/jobs?state=done").body)
        let retaken = (done as? [[String: Any]] ?? []).first { $0["image"] as? String == held }
        #expect(retaken?["attempts"] as? Int == 2)
        #expect((retaken?["worker"] as? String)?.contains("/\(survivor.processIdentifier)/") == true)
        survivor.terminate()
        await survivor.exited()
        #expect(survivor.terminationStatus == 0)
    }

    /// A `fathom worker` process (one worker, 3 s leases) on the service's store, logging to a file.
    static func startWorker(
        _ name: String, service: Service, registry: String, arguments: [String] = [], environment: [String: String] = [:]
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.fathomExecutable)
        process.arguments = ["worker", "--store", service.store, "--workers", "1", "--lease", "3s", "--insecure-registry", registry] + arguments
        process.environment = Fixtures.isolatedEnvironment.merging(environment) { $1 }
        let path = service.directory + "/\(name).log"
        FileManager.default.createFile(atPath: path, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Two worker processes scanning six images of one base at once read each layer once
    /// between them: the registry's own log counts one GET per blob.
    @Test(arguments: ["sqlite", "postgres"]) func workerProcessesReadEachLayerOnce(_ backend: String) async throws {
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("claims") : nil
        let port = try freePort()
        let registry = try await LocalRegistry(notify: ("http://127.0.0.1:\(port)/v1/events", Self.webhookToken))
        defer { registry.stop() }
        // Manifests come slowly, so both workers are reading the same layers at the same time.
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        proxy.inject(.delay(.milliseconds(800)), pathContains: "/manifests/", times: 1000)
        let service = try await Self.startService(workers: 0, port: port, store: store, arguments: ["--registry", proxy.host])
        defer { service.server.stop() }
        let layout = try await TestImages.layout()
        let repositories = (0..<6).map { "shared/i\($0)" }
        for repository in repositories { try await registry.push("oci:\(layout.directory):gzip", to: repository, tag: "1") }
        // Two jobs each at a time, so that neither process claims all six at once.
        let workers = try ["claims-a", "claims-b"].map { try Self.startWorker($0, service: service, registry: proxy.host, arguments: ["--batch", "2"]) }
        defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        try await Self.eventually("the scans", seconds: 90) {
            let summary = try Self.object(try await Self.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["done"] == repositories.count
        }
        let done = try JSONSerialization.jsonObject(with: try await Self.request(.GET, "\(service.base)/v1/jobs?state=done").body)
        let byWorker = Set((done as? [[String: Any]] ?? []).compactMap { ($0["worker"] as? String)?.split(separator: "/").dropLast().joined(separator: "/") })
        #expect(byWorker.count == 2, "both worker processes took jobs: \(byWorker)")
        #expect(!layout.gzip.layerDigests.isEmpty)
        for digest in layout.gzip.layerDigests {
            #expect(registry.blobGETCount(digest: digest) == 1, "\(digest) was fetched \(registry.blobGETCount(digest: digest)) times")
        }
        for worker in workers { worker.terminate() }
    }
}
