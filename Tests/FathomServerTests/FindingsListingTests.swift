import FathomCore
import FathomInventory
import FathomReport
import FathomServer
import FathomStore
import FathomStores
import FathomTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Reports an earlier fathom stored, before their findings were listed: a few are listed by the
/// request that asks for findings; many (every report, after an upgrade) in the background,
/// while `/v1/findings` answers 503 with Retry-After rather than a partial listing.
@Suite(.timeLimit(.minutes(5))) struct FindingsListingTests {
    @Test func reportsStoredBeforeTheListingAreListedBeforeFindingsAnswer() async throws {
        let path = try Fixtures.temporaryDirectory("listing") + "/fathom.db"
        let store = try await openStore(path)
        let sbom = Array(
            #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [{"type": "library", "name": "musl", "version": "1.1.24-r2", "purl": "pkg:apk/alpine/musl@1.1.24-r2?distro=alpine-3.10.9"}]}"#
                .utf8)
        let report = ScanReport(
            sbom: try SBOMInventory.read(sbom, path: "app.cdx.json", os: nil), name: "sbom:app.cdx.json", digest: Digest.sha256(of: sbom),
            size: Int64(sbom.count), advisoriesLoaded: true)
        let document = Array(try report.json().utf8)
        for number in 0..<60 {
            try await store.storeReport(document, name: "r.example/app\(number):1", repository: "app\(number)", tag: "1", manifestDigest: nil, findings: [])
        }
        // As an earlier fathom left them.
        try await Tool.sqlite(path, "UPDATE reports SET findings_listed = 0, counted = 0")
        let app = Application(router: RouterTests.routes(store).router())
        let auth: HTTPFields = [.authorization: "Bearer \(RouterTests.token)"]
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/findings", method: .get, headers: auth) { response in
                #expect(response.status == .serviceUnavailable && response.headers[.retryAfter] == "5", "\(response.status)")
                #expect(String(buffer: response.body).contains("being listed"))
            }
            var listed = false
            for _ in 0..<100 where !listed {
                try await Task.sleep(for: .milliseconds(100))
                try await client.execute(uri: "/v1/findings", method: .get, headers: auth) { listed = $0.status == .ok }
            }
            #expect(listed, "the background listing never finished")
            #expect(try await store.unlistedReports(limit: 1).isEmpty)
            // A few are listed by the request itself.
            try await Tool.sqlite(path, "UPDATE reports SET findings_listed = 0, counted = 0 WHERE name < 'r.example/app2'")
            #expect(try await store.unlistedReports(limit: 100).count == 12)  // app0, app1, app10…app19
            try await client.execute(uri: "/v1/findings", method: .get, headers: auth) { #expect($0.status == .ok) }
            #expect(try await store.unlistedReports(limit: 1).isEmpty)
            // A stored report that cannot be read is listed as an image not checked, and says why.
            try await store.storeReport(Array("not a report".utf8), name: "r.example/broken:1", repository: "broken", tag: "1", manifestDigest: nil, findings: [])
            try await Tool.sqlite(path, "UPDATE reports SET counted = 0 WHERE name = 'r.example/broken:1'")
            try await client.execute(uri: "/v1/fleet/summary", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                let summary = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect((summary?["missingData"] as? [String: Int])?["the stored report cannot be read"] == 1, "\(summary ?? [:])")
                // The stored reports' view is of no run: it says no "fetched", which read as 0.
                #expect((summary?["layers"] as? [String: Any])?["fetched"] == nil && (summary?["bytes"] as? [String: Any])?["fetched"] == nil, "\(summary ?? [:])")
                #expect((summary?["layers"] as? [String: Any])?["reused"] != nil, "\(summary ?? [:])")
            }
            #expect(try await store.unlistedReports(limit: 1).isEmpty)
        }
        try await store.close()
    }

    /// A dead scan job is a failure of the fleet until a later job of the same image finishes:
    /// a tag rolled back to a good image (scanned, done) stayed listed as failed.
    @Test func aLaterFinishedJobEndsADeadJobsFailure() async throws {
        let path = try Fixtures.temporaryDirectory("rollback") + "/fathom.db"
        let store = try await openStore(path)
        let name = "r.example/team/svc:1"
        @Sendable func job() -> NewJob { NewJob(kind: .scan, key: "push \(UUID())", image: name, repository: "team/svc", reference: "1") }
        let now = Date()
        _ = try await store.enqueue(job(), now: now)
        let bad = try #require(try await store.claim(worker: "w", lease: .seconds(60), limit: 1, localSources: false, now: now).first)
        try await store.fail(bad.id, worker: "w", error: "layer 2: gzip: invalid header", retryAfter: .seconds(1), maxAttempts: 1, now: now)
        let app = Application(router: RouterTests.routes(store).router())
        let auth: HTTPFields = [.authorization: "Bearer \(RouterTests.token)"]
        @Sendable func failures(_ client: some TestClientProtocol) async throws -> [String] {
            try await client.execute(uri: "/v1/fleet/summary", method: .get, headers: auth) { response in
                let summary = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                return (summary?["failures"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            }
        }
        try await app.test(.router) { client in
            #expect(try await failures(client) == [name])
            _ = try await store.enqueue(job(), now: now.addingTimeInterval(1))
            let good = try #require(try await store.claim(worker: "w", lease: .seconds(60), limit: 1, localSources: false, now: now.addingTimeInterval(1)).first)
            _ = try await store.complete([good.id], thenClaim: 0, worker: "w", lease: .seconds(60), localSources: false, now: now.addingTimeInterval(2))
            #expect(try await failures(client).isEmpty)
        }
        try await store.close()
    }
}
