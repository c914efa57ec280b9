import FathomCore
import FathomOCI
import FathomServer
import FathomStore
import FathomTestSupport
import Foundation
import Hummingbird
import NIOCore
import HTTPTypes
import HummingbirdTesting
import Prometheus
import Testing
import FathomStores

/// The service's router in-process, on a real SQLite store: identity, the error shape, the
/// authorization scheme, and which registries a webhook event may make fathom connect to.
@Suite(.timeLimit(.minutes(5))) struct RouterTests {
    static let token = "router-test-token"

    static func routes(_ store: any Store, registries: [String] = []) -> ServiceRoutes {
        var configuration = ServiceConfiguration(apiToken: token, webhookToken: "hook", workers: 0)
        configuration.registries = registries
        return ServiceRoutes(store: store, configuration: configuration, metricsRegistry: PrometheusCollectorRegistry(), runner: nil)
    }

    static func store() async throws -> any Store {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("router-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try await openStore(directory + "/fathom.db")
    }

    @Test func aNameHeldByTwoRegistriesIsAConflictUntilOneIsNamed() async throws {
        let store = try await Self.store()
        for host in ["registry-a.example:5000", "registry-b.example"] {
            try await store.storeReport(
                Array(#"{"from": "\#(host)"}"#.utf8), name: "\(host)/team/app:1", repository: "team/app", tag: "1", manifestDigest: nil, findings: [])
        }
        try await store.storeReport(
            Array(#"{"from": "one"}"#.utf8), name: "registry-a.example:5000/team/other:1", repository: "team/other", tag: "1", manifestDigest: nil,
            findings: [])
        let app = Application(router: Self.routes(store).router())
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            try await client.execute(uri: "/v1/images/team/app/1", method: .get, headers: auth) { response in
                #expect(response.status == .conflict)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                let error = body?["error"] as? [String: Any]
                #expect(error?["registries"] as? [String] == ["registry-a.example:5000", "registry-b.example"])
            }
            try await client.execute(uri: "/v1/images/team/app/1?registry=registry-b.example", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"from": "registry-b.example"}"#)
            }
            // A name one registry holds answers as it always did.
            try await client.execute(uri: "/v1/images/team/other/1", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
            }
            // One error shape; the scheme matched case-insensitively.
            try await client.execute(uri: "/v1/images/team/app/1", method: .get) { response in
                #expect(response.status == .unauthorized)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect((body?["error"] as? [String: Any])?["message"] as? String == "a bearer token is required")
            }
            // A wrong token is told from a missing one.
            try await client.execute(uri: "/v1/images/team/app/1", method: .get, headers: [.authorization: "Bearer not-\(Self.token)"]) { response in
                #expect(response.status == .unauthorized && response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect((body?["error"] as? [String: Any])?["message"] as? String == "the bearer token is not valid")
            }
            try await client.execute(uri: "/v1/images/team/other/1", method: .get, headers: [.authorization: "bEaReR \(Self.token)"]) { response in
                #expect(response.status == .ok)
            }
        }
        try await store.close()
    }

    /// An image with no report yet answers with its queued job (202), found by the registry asked
    /// for as reports are: the host alone at any port, host:port exactly; another host, or a
    /// part of this one, finds nothing (404).
    @Test func aQueuedJobIsFoundByTheRegistryAsReportsAre() async throws {
        let store = try await Self.store()
        let job = NewJob(
            kind: .scan, key: "scan registry-a.example:5000/team/app:1", image: "registry-a.example:5000/team/app:1", repository: "team/app",
            reference: "1")
        _ = try await store.enqueue(job, now: Date())
        let app = Application(router: Self.routes(store).router())
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            for (query, status) in [
                ("", HTTPResponse.Status.accepted), ("?registry=registry-a.example", .accepted), ("?registry=registry-a.example:5000", .accepted),
                ("?registry=registry-a.example:5001", .notFound), ("?registry=registry-b.example", .notFound), ("?registry=registry-a.exampl", .notFound),
            ] {
                try await client.execute(uri: "/v1/images/team/app/1" + query, method: .get, headers: auth) { response in
                    #expect(response.status == status, "\(query)")
                    if status == .accepted { #expect(String(buffer: response.body).contains("registry-a.example:5000/team/app:1"), "\(query)") }
                }
            }
        }
        try await store.close()
    }

    /// The sign-in cookie carries its issue time under an HMAC of the token: the server lets it
    /// expire after the session lifetime, refuses one with another token or a forged time, and
    /// takes it after a restart (nothing is kept in memory).
    @Test func theSessionCookieExpiresOnTheServer() async throws {
        let store = try await Self.store()
        var configuration = ServiceConfiguration(apiToken: Self.token, webhookToken: "hook", workers: 0)
        // Long enough that a loaded machine cannot outlive it between the steps below; the
        // expiry is checked with a one-second lifetime at the end.
        configuration.sessionLifetime = .seconds(60)
        let routes = ServiceRoutes(store: store, configuration: configuration, metricsRegistry: PrometheusCollectorRegistry(), runner: nil)
        let cookie = try await Application(router: routes.router()).test(.router) { client -> String in
            let cookie = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "token=\(Self.token)")
            ) { response -> String in
                let set = try #require(response.headers[.setCookie])
                // Plain HTTP: not Secure, or a browser would drop it (away from localhost).
                #expect(set.contains("Max-Age=60;") && set.contains("HttpOnly") && !set.contains("Secure"))
                return String(set.split(separator: ";")[0])
            }
            // Behind a proxy that ended TLS: Secure.
            try await client.execute(
                uri: "/login", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Forwarded-Proto")!: "https"],
                body: ByteBuffer(string: "token=\(Self.token)")
            ) { response in
                #expect(response.headers[.setCookie]?.contains("HttpOnly; Secure; SameSite=Strict") == true)
            }
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { #expect($0.status == .ok) }
            // Forged: another issue time with the same signature.
            let forged = cookie.replacingOccurrences(of: "=", with: "=9").split(separator: ".").first.map { "\($0).\(cookie.split(separator: ".")[1])" } ?? ""
            try await client.execute(uri: "/", method: .get, headers: [.cookie: forged]) { #expect($0.status != .ok) }
            return cookie
        }
        // A restart (new routes, same token) takes it while it lives…
        let restarted = ServiceRoutes(store: store, configuration: configuration, metricsRegistry: PrometheusCollectorRegistry(), runner: nil)
        try await Application(router: restarted.router()).test(.router) { client in
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { #expect($0.status == .ok) }
        }
        // …another token never does…
        var rotated = configuration
        rotated.apiToken = "another-token"
        let other = ServiceRoutes(store: store, configuration: rotated, metricsRegistry: PrometheusCollectorRegistry(), runner: nil)
        try await Application(router: other.router()).test(.router) { client in
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { #expect($0.status != .ok) }
        }
        // …and past its lifetime it is refused (a server whose lifetime is one second, two seconds on).
        try await Task.sleep(for: .seconds(2))
        var short = configuration
        short.sessionLifetime = .seconds(1)
        let expiring = ServiceRoutes(store: store, configuration: short, metricsRegistry: PrometheusCollectorRegistry(), runner: nil)
        try await Application(router: expiring.router()).test(.router) { client in
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { #expect($0.status != .ok) }
        }
        try await store.close()
    }

    /// What a registry deletes leaves the fleet: Harbor's `DELETE_ARTIFACT` (digest and tag),
    /// the CNCF registry's delete of a manifest (every name of it in that registry, none in
    /// another) and of a tag; once per event id. `DELETE /v1/images/…` does the same for a
    /// registry that sends no events, with the registry named when two hold the name.
    @Test func deletedImagesLeaveTheFleet() async throws {
        let store = try await Self.store()
        let (a, b) = ("registry-a.example:5000", "registry-b.example")
        let (first, second) = (Digest.sha256(of: Array("first".utf8)), Digest.sha256(of: Array("second".utf8)))
        let cve = ReportFinding(id: "CVE-2026-1", aliases: [], package: "lib", installedVersion: "1", fixedVersion: nil, severity: "HIGH", status: "affected")
        for (host, tag, digest) in [(a, "1", first), (a, "2", first), (a, "3", second), (b, "1", first), (b, "4", second)] {
            try await store.storeReport(
                Array("{}".utf8), name: "\(host)/team/app:\(tag)", repository: "team/app", tag: tag, manifestDigest: digest, findings: [cve])
        }
        let app = Application(router: Self.routes(store, registries: [a, b]).router())
        try await app.test(.router) { client in
            func post(_ body: String) async throws -> [String] {
                try await client.execute(uri: "/v1/events", method: .post, headers: [.authorization: "Bearer hook"], body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .accepted)
                    let object = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                    return try #require(object?["removed"] as? [String])
                }
            }
            func delete(_ path: String) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: path, method: .delete, headers: [.authorization: "Bearer \(Self.token)"]) { ($0.status, String(buffer: $0.body)) }
            }
            let harbor = """
                {"type": "DELETE_ARTIFACT", "occur_at": 1764000000, "event_data": {"resources": [{"digest": "\(second)", "tag": "3",
                  "resource_url": "\(a)/team/app:3"}], "repository": {"repo_full_name": "team/app"}}}
                """
            #expect(try await post(harbor) == ["\(a)/team/app:3"], "the artifact's digest, in its registry only")
            #expect(try await delete("/v1/images/team/app/1").0 == .conflict)
            let manifest = """
                {"events": [{"id": "delete-1", "timestamp": "2026-12-01T10:00:00Z", "action": "delete",
                  "target": {"digest": "\(first)", "repository": "team/app"}, "request": {"host": "\(a)"}}]}
                """
            #expect(try await post(manifest) == ["\(a)/team/app:1", "\(a)/team/app:2"])
            #expect(try await post(manifest).isEmpty, "a redelivery")
            let tag = """
                {"events": [{"id": "delete-2", "timestamp": "2026-12-01T10:00:01Z", "action": "delete",
                  "target": {"repository": "team/app", "tag": "4"}, "request": {"host": "\(b)"}}]}
                """
            #expect(try await post(tag) == ["\(b)/team/app:4"])
            // A delete older than the tag's last push (a late or out-of-order delivery) leaves the new image.
            try await store.storeReport(Array("{}".utf8), name: "\(a)/team/app:5", repository: "team/app", tag: "5", manifestDigest: second, findings: [cve])
            try await store.importEvents([
                RegistryEvent(
                    id: "push-5", action: .push, repository: "team/app", tag: "5", digest: second, mediaType: nil,
                    timestamp: try #require(RegistryEvent.parseTimestamp("2026-12-02T10:00:00Z")), host: a)
            ])
            let stale = """
                {"events": [{"id": "delete-5", "timestamp": "2026-12-01T10:00:00Z", "action": "delete",
                  "target": {"repository": "team/app", "tag": "5"}, "request": {"host": "\(a)"}}]}
                """
            #expect(try await post(stale).isEmpty)
            #expect(try await delete("/v1/images/team/app/5").0 == .ok)
            let (status, body) = try await delete("/v1/images/team%2Fapp/1")
            #expect(status == .ok && body.contains("\(b)/team/app:1"), "\(body)")
            #expect(try await delete("/v1/images/team/app/1").0 == .notFound)
            // The history under an image is read-only; the image takes GET and DELETE.
            for (path, method, allow) in [
                ("/v1/images/team/app/1/scans", HTTPRequest.Method.delete, "GET"), ("/v1/images/team/app/1/scans", .options, "GET"),
                ("/v1/images/team/app/1", .options, "GET, DELETE"),
            ] {
                try await client.execute(uri: path, method: method, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                    #expect(response.status == .methodNotAllowed && response.headers[.allow] == allow, "\(method) \(path)")
                }
            }
            // A path no route has is a 404 in the one error shape, naming the path.
            try await client.execute(uri: "/v1/imagez", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .notFound)
                let object = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: [String: String]]
                #expect(object?["error"]?["message"]?.hasPrefix("no such path: /v1/imagez") == true, "\(String(buffer: response.body))")
            }
        }
        let view = try await store.fleetView(top: 10)
        #expect(view.images == 0 && view.bySeverity["HIGH"] == 0 && view.widespread.isEmpty)
        #expect(try await store.findings(FindingsFilter(id: "CVE-2026-1"), after: nil, limit: 10).count == 0)
        try await store.close()
    }

    /// A query parameter an endpoint does not take is a 400 naming it: a misspelt filter
    /// (`cve=` for `id=`, `repo=` for `repository=`) answered as if there were none.
    @Test func anUnknownOrRepeatedQueryParameterIsRefused() async throws {
        let store = try await Self.store()
        let app = Application(router: Self.routes(store).router())
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            for (path, named) in [
                ("/v1/findings?cve=CVE-2099-0001", "'cve'"), ("/v1/findings?ID=CVE-2099-0001", "'ID'"), ("/v1/images?repo=team/app", "'repo'"),
                ("/v1/fleet/summary?severity=HIGH", "'severity'"), ("/v1/jobs?status=dead", "'status'"), ("/v1/images/team/app/1?limit=2", "'limit'"),
                ("/v1/findings?id=CVE-1&id=CVE-2", "'id' is given more than once"), ("/v1/findings?id=CVE-1,CVE-2", "ask once per id"),
            ] {
                try await client.execute(uri: path, method: .get, headers: auth) { response in
                    let body = String(buffer: response.body)
                    #expect(response.status == .badRequest && body.contains(named), "\(path): \(response.status) \(body)")
                }
            }
            // A request policy's severity that is no severity names the choices.
            let body = ByteBuffer(string: #"{"image": "r.example/team/app:1", "policy": {"severity": ["SEVERE"]}}"#)
            try await client.execute(uri: "/v1/scans", method: .post, headers: auth, body: body) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .badRequest && text.contains("must be one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN"), "\(text)")
            }
            for path in ["/v1/findings?id=CVE-2099-0001&severity=HIGH&limit=5", "/v1/images?repository=team/app&q=x", "/v1/jobs?&state=dead", "/v1/fleet/summary", "/v1/findings?id=CVE-1&severity="] {
                try await client.execute(uri: path, method: .get, headers: auth) { response in
                    #expect(response.status == .ok, "\(path): \(String(buffer: response.body))")
                }
            }
        }
        try await store.close()
    }

    /// A name whose scan failed for good and that has no report (a mistyped image) is taken out
    /// of the fleet's failures by deleting it, as an image with a report is.
    @Test func deletingANameWhoseScanDiedEndsItsFailure() async throws {
        let store = try await Self.store()
        let name = "registry-a.example:5000/team/typo:1"
        let (id, _) = try await store.enqueue(NewJob(kind: .scan, key: "scan \(name)", image: name, repository: "team/typo", reference: "1"), now: Date())
        _ = try #require(try await store.claim(worker: "w", lease: .seconds(60), now: Date()))
        #expect(try await store.fail(id, worker: "w", error: "MANIFEST_UNKNOWN", retryAfter: .seconds(1), maxAttempts: 1, now: Date()))
        let app = Application(router: Self.routes(store, registries: ["registry-a.example:5000"]).router())
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            func failures() async throws -> [String] {
                try await client.execute(uri: "/v1/fleet/summary", method: .get, headers: auth) { response in
                    let object = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                    return (object?["failures"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                }
            }
            #expect(try await failures() == [name])
            try await client.execute(uri: "/v1/images/team/other/1", method: .delete, headers: auth) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/images/team/typo/1", method: .delete, headers: auth) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains(name), "\(String(buffer: response.body))")
            }
            #expect(try await failures().isEmpty)
            try await client.execute(uri: "/v1/images/team/typo/1", method: .delete, headers: auth) { #expect($0.status == .notFound) }
        }
        try await store.close()
    }

    /// The same repository and tag in two registries are two images, dead jobs too: each is
    /// answered and deleted by its registry, and without one the answer names both.
    @Test func deadJobsAreTheirRegistrysImages() async throws {
        let store = try await Self.store()
        let names = ["registry-a.example:5000/team/typo:1", "registry-b.example:5000/team/typo:1"]
        for name in names {
            let (id, _) = try await store.enqueue(NewJob(kind: .scan, key: "scan \(name)", image: name, repository: "team/typo", reference: "1"), now: Date())
            _ = try #require(try await store.claim(worker: "w", lease: .seconds(60), now: Date()))
            #expect(try await store.fail(id, worker: "w", error: "MANIFEST_UNKNOWN", retryAfter: .seconds(1), maxAttempts: 1, now: Date()))
        }
        let app = Application(router: Self.routes(store, registries: ["registry-a.example:5000", "registry-b.example:5000"]).router())
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            for method in [HTTPRequest.Method.get, .delete] {
                try await client.execute(uri: "/v1/images/team/typo/1", method: method, headers: auth) { response in
                    let text = String(buffer: response.body)
                    #expect(response.status == .conflict && text.contains("registry-a.example:5000") && text.contains("registry-b.example:5000"), "\(method) \(text)")
                }
            }
            // The older job, of the registry named, though the other registry's is newer.
            try await client.execute(uri: "/v1/images/team/typo/1?registry=registry-a.example:5000", method: .get, headers: auth) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .unprocessableContent && text.contains(names[0]) && !text.contains(names[1]), "\(text)")
            }
            try await client.execute(uri: "/v1/images/team/typo/1?registry=registry-a.example", method: .delete, headers: auth) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .ok && text.contains(names[0]) && !text.contains(names[1]), "\(text)")
            }
            // One registry's left: answered without naming it.
            try await client.execute(uri: "/v1/images/team/typo/1", method: .delete, headers: auth) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains(names[1]), "\(String(buffer: response.body))")
            }
        }
        try await store.close()
    }

    /// A webhook never makes fathom connect to a registry `--registry` does not name.
    @Test func webhookEventsReachOnlyTheRegistriesNamed() {
        func registry(_ allowed: [String], _ host: String?) -> String? {
            var configuration = ServiceConfiguration()
            configuration.registries = allowed
            return configuration.registry(forEvent: host)
        }
        #expect(registry([], "registry.example") == nil)
        #expect(registry(["registry.example"], "registry.example") == "registry.example")
        // One plain host: an event naming another address is scanned from the one named.
        #expect(registry(["registry.internal:5000"], "registry.example") == "registry.internal:5000")
        #expect(registry(["*.corp.example:5000"], "a.corp.example:5000") == "a.corp.example:5000")
        #expect(registry(["*.corp.example:5000"], "evil.example:5000") == nil)
        #expect(registry(["a.example", "b.example"], "c.example") == nil)
        #expect(registry(["a.example", "*.corp.example"], "x.corp.example") == "x.corp.example")
        // A host that smuggles a path or a user in names another registry: refused, whatever the pattern.
        #expect(registry(["*.corp.example"], "evil.example/a.corp.example") == nil)
        #expect(registry(["*"], "evil.example/x") == nil)
        #expect(registry(["*.corp.example"], "user@a.corp.example") == nil)
        #expect(registry(["registry.internal:5000"], "evil.example/x") == nil)
    }

    /// Scan requests are held to the same registries; Docker Hub's names are one.
    @Test func scanRequestsReachOnlyTheRegistriesNamed() throws {
        func allows(_ allowed: [String], _ image: String) throws -> Bool {
            var configuration = ServiceConfiguration()
            configuration.registries = allowed
            return configuration.allows(scanOf: try ImageReference(parsing: image).registry)
        }
        #expect(try allows([], "registry.example/app:1"))
        #expect(try allows(["registry.example"], "registry.example/app:1"))
        #expect(try !allows(["registry.example"], "127.0.0.1:9/app:1"))
        #expect(try allows(["127.0.0.1:*"], "127.0.0.1:5000/app:1"))
        #expect(try allows(["docker.io"], "alpine:3.20") && allows(["docker.io"], "docker.io/library/alpine:3.20"))
        #expect(try !allows(["docker.io"], "ghcr.io/org/app:1"))
        #expect(try allows(["*.corp.example:5000"], "a.corp.example:5000/app:1"))
    }
}
