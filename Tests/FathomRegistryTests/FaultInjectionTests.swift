import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// Faults the real registry cannot be made to produce, injected by a proxy in front of it:
/// rate limiting, gateway errors, resets, and damaged bodies. Transient faults are retried;
/// damage fails the layer with a clear error and nothing unverified comes back.
@Suite(.serialized, .timeLimit(.minutes(3))) struct FaultInjectionTests {
    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }
    var layerDigest: String { layout.gzip.layerDigests[0] }

    func scan(
        through proxy: FaultProxy, maxAttempts: Int = 4, clock: any Clock<Duration> = ContinuousClock(),
        maxRetryAfter: Duration = .seconds(5)
    ) async throws -> ImageScanResult {
        let client = try RegistryClient(
            configuration: RegistryClientConfiguration(
                credentials: .anonymous, maxAttempts: maxAttempts, baseBackoff: .milliseconds(20), maxBackoff: .milliseconds(200),
                maxRetryAfter: maxRetryAfter, clock: clock))
        return try await withClient(client) { client in
            try await ImageScanner().scan(RegistryImageSource(reference: try ImageReference(parsing: "\(proxy.host)/alpine:3.7"), client: client))
        }
    }

    func withProxy<T>(_ body: (FaultProxy) async throws -> T) async throws -> T {
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        return try await body(proxy)
    }

    @Test func rateLimitIsRetriedAfterRetryAfter() async throws {
        try await withProxy { proxy in
            proxy.inject(.status(429, retryAfter: "30"), pathContains: "/manifests/3.7")
            // The clock jumps to each deadline: the retry waited 30 s of clock time, and the
            // test far less real time than that (however busy the machine).
            let clock = ManualClock(immediate: true)
            let started = ContinuousClock.now
            let result = try await scan(through: proxy, clock: clock, maxRetryAfter: .seconds(60))
            #expect(clock.now.offset >= .seconds(30))
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(result.layers.count == 1)
            #expect(proxy.requests.filter { $0.contains("/manifests/3.7") }.count == 2)
        }
    }

    @Test(arguments: [500, 502, 503, 504])
    func gatewayErrorsAreRetried(_ status: Int) async throws {
        try await withProxy { proxy in
            proxy.inject(.status(status), pathContains: "/blobs/\(layerDigest)", times: 2)
            let result = try await scan(through: proxy)
            #expect(result.layers[0].facts.summary.digest.description == layerDigest)
            #expect(proxy.requests.filter { $0.contains("/blobs/\(layerDigest)") }.count == 3)
        }
    }

    /// A registry that answered none of a request's tries is asked once by the requests after
    /// it, until it answers again: one that goes down mid-fleet fails the rest at once instead of
    /// each request waiting out its retries in turn. Once it answers, requests retry as before.
    @Test func aRegistryThatAnswersNothingIsAskedOnceUntilItAnswers() async throws {
        try await withProxy { proxy in
            let client = try RegistryClient(
                configuration: RegistryClientConfiguration(
                    credentials: .anonymous, maxAttempts: 4, baseBackoff: .milliseconds(20), maxBackoff: .milliseconds(200)))
            try await withClient(client) { client in
                let reference = try ImageReference(parsing: "\(proxy.host)/alpine:3.7")
                func manifests() -> Int { proxy.requests.filter { $0.contains("/manifests/3.7") }.count }
                proxy.inject(.reset, pathContains: "/manifests/3.7", times: 5)
                do {
                    _ = try await client.manifestDigest(reference)
                    Issue.record("every try was reset")
                } catch {
                    #expect("\(error)".contains("failed after 4 tries"), "\(error)")
                }
                #expect(manifests() == 4)
                do {
                    _ = try await client.manifestDigest(reference)
                    Issue.record("the fifth reset")
                } catch {
                    #expect("\(error)".contains("failed after 1 try (the registry did not answer a request just before this one"), "\(error)")
                }
                #expect(manifests() == 5, "asked once")
                // It answers: the next request is answered, and the one after retries again.
                #expect(try await client.manifestDigest(reference).description == layout.gzip.manifestDigest.description)
                proxy.inject(.reset, pathContains: "/manifests/3.7", times: 1)
                #expect(try await client.manifestDigest(reference).description == layout.gzip.manifestDigest.description)
                #expect(manifests() == 8, "a reset retried once it answered again")
            }
        }
    }

    @Test func connectionResetIsRetried() async throws {
        try await withProxy { proxy in
            proxy.inject(.reset, pathContains: "/blobs/\(layerDigest)")
            let result = try await scan(through: proxy)
            #expect(result.layers.count == 1)
        }
    }

    @Test func persistentFailureGivesUpWithTheStatus() async throws {
        try await withProxy { proxy in
            proxy.inject(.status(503), pathContains: "/manifests/", times: 100)
            let error = await #expect(throws: FathomError.self) { try await scan(through: proxy, maxAttempts: 3) }
            #expect(error?.code == .registry)
            #expect(error?.message.contains("503") == true)
            #expect(error?.image == "\(proxy.host)/alpine:3.7")
            #expect(proxy.requests.filter { $0.contains("/manifests/") }.count == 3)
        }
    }

    @Test func retryAfterLongerThanAllowedFailsAtOnce() async throws {
        try await withProxy { proxy in
            proxy.inject(.status(429, retryAfter: "3600"), pathContains: "/manifests/")
            let error = await #expect(throws: FathomError.self) { try await scan(through: proxy) }
            #expect(error?.message.contains("retry after") == true)
        }
    }

    /// A body damaged once is read again; the scan is exactly the undamaged one.
    @Test func damagedBodiesAreReadAgain() async throws {
        let clean = try await withProxy { proxy in try await scan(through: proxy) }
        for fault in [FaultProxy.Fault.flipByte(offset: 5000), .truncate(keep: 100_000)] {
            try await withProxy { proxy in
                proxy.inject(fault, pathContains: "/blobs/\(layerDigest)", times: 2)
                let result = try await scan(through: proxy)
                #expect(result.packages.map(\.package) == clean.packages.map(\.package))
                #expect(proxy.requests.filter { $0.contains("/blobs/\(layerDigest)") }.count == 3)
            }
        }
    }

    @Test func corruptedBlobIsADigestMismatchNamingTheLayer() async throws {
        try await withProxy { proxy in
            proxy.inject(.flipByte(offset: 5000), pathContains: "/blobs/\(layerDigest)", times: 3)
            let error = await #expect(throws: FathomError.self) { try await scan(through: proxy) }
            #expect(error?.code == .digestMismatch)
            #expect(error?.layer == layerDigest)
            #expect(error?.image == "\(proxy.host)/alpine:3.7")
        }
    }

    @Test func truncatedBlobFailsTheLayer() async throws {
        try await withProxy { proxy in
            proxy.inject(.truncate(keep: 100_000), pathContains: "/blobs/\(layerDigest)", times: 3)
            let error = await #expect(throws: FathomError.self) { try await scan(through: proxy) }
            #expect(error?.code == .truncated)
            #expect(error?.layer == layerDigest)
        }
    }

    /// A 429 with `Retry-After` pauses every request to that registry, not only the one that
    /// got it: the fleet slows down together.
    @Test func rateLimitPausesEveryRequestToTheRegistry() async throws {
        try await withProxy { proxy in
            proxy.inject(.status(429, retryAfter: "30"), pathContains: "/manifests/3.7")
            let clock = ManualClock()
            let client = try RegistryClient(
                configuration: RegistryClientConfiguration(
                    credentials: .anonymous, baseBackoff: .milliseconds(20), maxRetryAfter: .seconds(60), clock: clock))
            try await withClient(client) { client in
                let started = ContinuousClock.now
                let reference = try ImageReference(parsing: "\(proxy.host)/alpine:3.7")
                let limited = Task { try await client.manifest(reference) }
                try await waitUntil { clock.sleeperCount == 1 }
                // Sent while the registry's pause is on: it waits for the pause to end, unsent.
                let tags = Task { try await client.tags(proxy.host, repository: "alpine") }
                try await waitUntil { clock.sleeperCount == 2 }
                #expect(!proxy.requests.contains { $0.contains("/tags/list") })
                clock.advance(by: .seconds(30))
                _ = try await tags.value
                _ = try await limited.value
                #expect(proxy.requests.filter { $0.contains("/manifests/3.7") }.count == 2)
                #expect(ContinuousClock.now - started < .seconds(30))
            }
        }
    }

    /// At most `connectionsPerRegistry` requests are in flight to one registry.
    @Test func requestsToARegistryAreCapped() async throws {
        try await withProxy { proxy in
            proxy.inject(.delay(.milliseconds(300)), pathContains: "/tags/list", times: 6)
            let client = try RegistryClient(
                configuration: RegistryClientConfiguration(credentials: .anonymous, connectionsPerRegistry: 2))
            try await withClient(client) { client in
                try await client.ping(proxy.host)
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 { group.addTask { _ = try await client.tags(proxy.host, repository: "alpine") } }
                    try await group.waitForAll()
                }
                // Six 300 ms requests, two at a time: three rounds.
                #expect(clock.now - start >= .milliseconds(880))
            }
        }
    }
}

/// Polls `condition` every few milliseconds, failing after `timeout` of real time.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
