// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
import AsyncHTTPClient
public import FathomCore
public import FathomOCI
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Foundation

/// How a `RegistryClient` behaves.
public struct RegistryClientConfiguration: Sendable {
    public var credentials: CredentialStore
    /// Hosts that may be spoken to over plain HTTP, or over TLS without verifying the
    /// certificate (Docker's `insecure-registries`). Loopback hosts may use plain HTTP, but a
    /// loopback host serving TLS is verified unless it is named here too.
    public var insecureRegistries: Set<String>
    /// A PEM file of extra CA certificates trusted on top of the system's.
    public var caFile: String?
    /// Attempts per request, including the first.
    public var maxAttempts: Int
    /// Reads of a blob, including the first, when its body arrives damaged (cut short, or not
    /// hashing to its digest): a proxy or a flaky link, cured by reading it again.
    public var blobAttempts: Int
    public var baseBackoff: Duration
    public var maxBackoff: Duration
    /// The longest `Retry-After` honoured; longer waits fail the request instead.
    public var maxRetryAfter: Duration
    /// Connections kept open to one registry at most.
    public var connectionsPerRegistry: Int
    /// Time allowed for a request's response head.
    public var requestTimeout: Duration
    /// Time allowed between two reads of a response body.
    public var readTimeout: Duration
    /// Identifies this scan in the registry's access logs (sent in `User-Agent`).
    public var scanID: String
    /// Keeps time for pauses, token lifetimes and backoff (tests pass one that does not sleep).
    public var clock: any Clock<Duration>

    public init(
        credentials: CredentialStore = CredentialStore(), insecureRegistries: Set<String> = [], caFile: String? = nil,
        maxAttempts: Int = 5, blobAttempts: Int = 3, baseBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8),
        maxRetryAfter: Duration = .seconds(60), connectionsPerRegistry: Int = 8, requestTimeout: Duration = .seconds(30),
        readTimeout: Duration = .seconds(60), scanID: String = RegistryClientConfiguration.makeScanID(),
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.credentials = credentials
        self.insecureRegistries = insecureRegistries
        self.caFile = caFile
        self.maxAttempts = maxAttempts
        self.blobAttempts = max(1, blobAttempts)
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
        self.connectionsPerRegistry = connectionsPerRegistry
        self.requestTimeout = requestTimeout
        self.readTimeout = readTimeout
        self.scanID = scanID
        self.clock = clock
    }

    public static func makeScanID() -> String {
        String(UUID().uuidString.lowercased().prefix(8))
    }

    /// The scan's id in `User-Agent`: the one the task runs under (a service job's), else the
    /// client's (a CLI run's).
    var userAgent: String { "\(FathomVersionInfo.userAgent) (scan \(RegistryScan.id ?? scanID))" }
}

/// The scan a task's registry requests belong to, for the registry's access logs: a service
/// process shares one client among its jobs, and each job's pulls carry the job's own id.
public enum RegistryScan {
    @TaskLocal public static var id: String?
}

/// A client for the OCI distribution API: manifests, blobs, catalog and tags, with the
/// registry's own authentication (anonymous, Basic, Bearer tokens) and retries.
public final class RegistryClient: Sendable {
    public let configuration: RegistryClientConfiguration
    let http: HTTPClient
    /// The pool for hosts named insecure: TLS without certificate checks. Only those hosts use it.
    let unverifiedHTTP: HTTPClient?
    let auth: AuthState
    let gates: RegistryGates
    let clock: RegistryClock
    let logger: Logger

    public init(configuration: RegistryClientConfiguration = .init(), logger: Logger = Logger(label: "fathom.registry")) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw FathomError(.io, "the CA file cannot be read", path: caFile)
            }
            tls.additionalTrustRoots = [.file(caFile)]
        }
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.connectionsPerRegistry
        // fathom retries with its own capped backoff; the pool's silent reconnect loop would
        // otherwise hold a refused connection until the request deadline.
        pool.retryConnectionEstablishment = false
        let httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: TimeAmount(configuration.readTimeout)),
            connectionPool: pool,
            decompression: .disabled)
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
        if configuration.insecureRegistries.isEmpty {
            unverifiedHTTP = nil
        } else {
            var unverified = httpConfiguration
            unverified.tlsConfiguration?.certificateVerification = .none
            unverifiedHTTP = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: unverified)
        }
        self.configuration = configuration
        let clock = RegistryClock(configuration.clock)
        self.clock = clock
        self.auth = AuthState(clock: clock)
        self.gates = RegistryGates(permits: configuration.connectionsPerRegistry, clock: clock)
        self.logger = logger
    }

    /// Closes the connection pool. Call once when done.
    public func shutdown() async throws {
        try await unverifiedHTTP?.shutdown()
        try await http.shutdown()
    }

    /// The pool for `host`: the unverified one only for a host named in `insecureRegistries`.
    func http(for host: String) -> HTTPClient {
        configuration.insecureRegistries.contains(host) ? (unverifiedHTTP ?? http) : http
    }

    // MARK: - API

    /// `GET /v2/`: checks the registry speaks the distribution API and that we may talk to it.
    /// - Parameter attempts: tries at most (default: the configuration's); 1 asks once, to learn
    ///   quickly whether a registry answers at all.
    public func ping(_ registry: String, attempts: Int? = nil) async throws {
        try await withRequestPermit(registry) {
            let response = try await send(.GET, registry: registry, path: "/v2/", scope: nil, maxAttempts: attempts)
            _ = try await response.body.collect(upTo: ByteLimits.errorBody)
        }
    }

    /// `HEAD` on a manifest: the digest the registry serves for a tag now, without its body
    /// (how a rescan notices a moved tag without downloading anything).
    public func manifestDigest(_ reference: ImageReference, accept: [MediaType] = MediaType.acceptedManifests) async throws
        -> Digest
    {
        try await withRequestPermit(reference.apiHost) {
            let response = try await send(
                .HEAD, registry: reference.apiHost,
                path: "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                scope: Self.pullScope(reference.repository),
                headers: [("Accept", accept.map(\.rawValue).joined(separator: ", "))])
            guard let stated = response.headers.first(name: "Docker-Content-Digest"), let digest = try? Digest(parsing: stated)
            else {
                throw FathomError(
                    .registry, "the registry answered HEAD without a Docker-Content-Digest", image: reference.description)
            }
            return digest
        }
    }

    /// Whether the registry says, in the distribution spec's own error code, that `reference`
    /// names no manifest in a repository it has (`MANIFEST_UNKNOWN`): a deleted tag, not a
    /// registry that could not answer. `NAME_UNKNOWN` is not taken: some registries answer it
    /// for a repository the credentials may not see. Asked with GET, since a HEAD's 404 has no body.
    public func saysUnknown(_ reference: ImageReference) async -> Bool {
        do {
            _ = try await manifest(reference)
            return false
        } catch let error as FathomError where error.code == .notFound {
            guard let body = error.cause as? RegistryErrorBody else { return false }
            return body.errors.contains { $0.code == "MANIFEST_UNKNOWN" }
        } catch {
            return false
        }
    }

    /// A fetched manifest or index, with its exact bytes and their digest.
    public struct FetchedManifest: Sendable {
        public var bytes: [UInt8]
        public var mediaType: MediaType?
        public var digest: Digest
    }

    /// Fetches a manifest or index by tag or digest, checking the digest when one was asked for
    /// and when the registry states one in `Docker-Content-Digest`.
    public func manifest(_ reference: ImageReference, accept: [MediaType] = MediaType.acceptedManifests) async throws
        -> FetchedManifest
    {
        try await readingAgainIfDamaged("manifest \(reference)") {
            try await fetchManifest(reference, accept: accept)
        }
    }

    private func fetchManifest(_ reference: ImageReference, accept: [MediaType]) async throws -> FetchedManifest {
        let (response, body) = try await withRequestPermit(reference.apiHost) {
            let response = try await send(
                .GET, registry: reference.apiHost, path: "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                scope: Self.pullScope(reference.repository),
                headers: [("Accept", accept.map(\.rawValue).joined(separator: ", "))])
            do {
                return (response, try await collectBody(response, what: "manifest"))
            } catch var error as FathomError {
                error.image = reference.description
                throw error
            }
        }
        let bytes = Array(body.readableBytesView)
        let digest = Digest.sha256(of: bytes)
        if let expected = reference.digest, expected != digest {
            throw FathomError(
                .digestMismatch, "the registry served a manifest hashing to \(digest) for \(expected)",
                image: reference.description)
        }
        if let stated = response.headers.first(name: "Docker-Content-Digest"), let statedDigest = try? Digest(parsing: stated),
            statedDigest.algorithm == .sha256, statedDigest != digest
        {
            throw FathomError(
                .digestMismatch, "the manifest hashes to \(digest) but the registry says \(statedDigest)",
                image: reference.description)
        }
        let contentType = response.headers.first(name: "Content-Type").map {
            MediaType($0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? $0)
        }
        return FetchedManifest(bytes: bytes, mediaType: contentType, digest: digest)
    }

    /// Fetches a small blob (a config) whole, checking its size and digest.
    public func smallBlob(_ reference: ImageReference, _ descriptor: Descriptor) async throws -> [UInt8] {
        guard descriptor.size <= Int64(ByteLimits.document) else {
            throw FathomError(.limitExceeded, "the blob \(descriptor.digest) is \(descriptor.size) bytes, too large to read whole")
        }
        return try await withBlob(reference, digest: descriptor.digest) { stream in
            var bytes: [UInt8] = []
            for try await chunk in stream {
                bytes += chunk
                if Int64(bytes.count) > descriptor.size { break }
            }
            guard Int64(bytes.count) == descriptor.size else {
                throw FathomError(.sizeMismatch, "blob \(descriptor.digest) is not the \(descriptor.size) bytes its descriptor states")
            }
            let actual = Digest.sha256(of: bytes)
            guard actual == descriptor.digest else {
                throw FathomError(.digestMismatch, "blob \(descriptor.digest) hashes to \(actual)")
            }
            return bytes
        }
    }

    /// Streams a blob to `body`. The stream is valid only inside `body`; it is pulled, so a
    /// slow consumer slows the download. The caller verifies the digest (`LayerReader` does).
    ///
    /// A body that arrives damaged (cut short, the wrong size, or not hashing to `digest`, as
    /// `body` finds) is read again, up to `blobAttempts` times with backoff; `body` then starts
    /// over, so it must keep nothing from a failed read. A blob damaged in the registry itself
    /// fails after those reads.
    public func withBlob<Result>(
        _ reference: ImageReference, digest: Digest, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result {
        try await readingAgainIfDamaged("blob \(digest)") {
            try await withRequestPermit(reference.apiHost) {
                try await streamBlob(reference, digest: digest, body)
            }
        }
    }

    /// Runs `read` again (up to `blobAttempts` times in all, with backoff) while what it read
    /// arrived damaged: cut short, the wrong size, not hashing to its digest. A body whose
    /// connection failed part way is `truncated` too.
    func readingAgainIfDamaged<Result>(_ what: String, _ read: () async throws -> Result) async throws -> Result {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await read()
            } catch let error as FathomError
                where attempt < configuration.blobAttempts && [.truncated, .sizeMismatch, .digestMismatch].contains(error.code)
            {
                let delay = min(configuration.baseBackoff * (1 << min(attempt - 1, 16)), configuration.maxBackoff)
                logger.warning(
                    "body damaged in transit, reading it again",
                    metadata: ["what": "\(what)", "cause": "\(error.message)", LogKey.attempt: "\(attempt)"])
                try await clock.sleep(for: delay)
            }
        }
    }

    /// A whole small body, or `truncated` when the connection fails before its end.
    func collectBody(_ response: HTTPClientResponse, what: String) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: ByteLimits.document)
        } catch let error as NIOTooManyBytesError {
            throw FathomError(.limitExceeded, "the \(what) is larger than \(ByteLimits.document) bytes", cause: error)
        } catch {
            throw FathomError(.truncated, "the connection failed before the end of the \(what)", cause: error)
        }
    }

    private func streamBlob<Result>(
        _ reference: ImageReference, digest: Digest, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result {
        let response = try await send(
            .GET, registry: reference.apiHost, path: "/v2/\(reference.repository)/blobs/\(digest)",
            scope: Self.pullScope(reference.repository), timeout: .seconds(3600))
        let logger = self.logger
        let stream = ByteStream {
            var iterator = response.body.makeAsyncIterator()
            var received: Int64 = 0
            return {
                do {
                    guard let buffer = try await iterator.next() else { return nil }
                    received += Int64(buffer.readableBytes)
                    return Array(buffer.readableBytesView)
                } catch {
                    logger.debug("blob read failed", metadata: [LogKey.layerDigest: "\(digest)"])
                    throw FathomError(
                        .truncated, "the connection failed after \(received) bytes of the blob", layer: digest.description,
                        cause: error)
                }
            }
        }
        return try await body(stream)
    }

    /// Every repository in the catalog, following `Link` pagination.
    public func catalog(_ registry: String, pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { var repositories: [String]? }
        return try await paginate(registry: registry, firstPath: "/v2/_catalog?n=\(pageSize)", scope: "registry:catalog:*") {
            (try JSONDecoder().decode(Page.self, from: Data($0))).repositories ?? []
        }
    }

    /// Every tag of a repository, following `Link` pagination.
    public func tags(_ registry: String, repository: String, pageSize: Int = 1000) async throws -> [String] {
        struct Page: Decodable { var tags: [String]? }
        return try await paginate(
            registry: registry, firstPath: "/v2/\(repository)/tags/list?n=\(pageSize)", scope: Self.pullScope(repository)
        ) {
            (try JSONDecoder().decode(Page.self, from: Data($0))).tags ?? []
        }
    }

    private func paginate(
        registry: String, firstPath: String, scope: String, decode: ([UInt8]) throws -> [String]
    ) async throws -> [String] {
        var results: [String] = []
        var path: String? = firstPath
        var pages = 0
        while let current = path, pages < 100_000 {
            pages += 1
            // A listing page has no digest: one that does not parse is taken as damaged in
            // transit and read again, then refused.
            let (response, page) = try await readingAgainIfDamaged("listing \(current)") {
                let (response, body) = try await withRequestPermit(registry) {
                    let response = try await send(.GET, registry: registry, path: current, scope: scope)
                    return (response, Array(try await collectBody(response, what: "listing at \(current)").readableBytesView))
                }
                do {
                    return (response, try decode(body))
                } catch {
                    throw FathomError(.truncated, "the registry's listing at \(current) is not the expected JSON", cause: error)
                }
            }
            results += page
            path = response.headers.first(name: "Link").flatMap(Self.nextLink)
        }
        return results
    }

    /// The target of `<url>; rel="next"`, as a path on the registry.
    static func nextLink(_ header: String) -> String? {
        for link in header.split(separator: ",") {
            let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">"),
                parts.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "") == "rel=next" })
            else { continue }
            var url = String(target.dropFirst().dropLast())
            if let scheme = url.range(of: "://"), let slash = url[scheme.upperBound...].firstIndex(of: "/") {
                url = String(url[slash...])
            }
            return url
        }
        return nil
    }

    static func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }
    static func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }

    // MARK: - Push (fathom publishes its advisory database as an OCI artifact)

    /// Uploads `bytes` as a blob of `reference`'s repository (monolithic: one POST, one PUT),
    /// unless the registry has it already; returns its digest.
    @discardableResult
    public func uploadBlob(_ reference: ImageReference, _ bytes: [UInt8]) async throws -> Digest {
        let digest = Digest.sha256(of: bytes)
        let registry = reference.apiHost
        let scope = Self.pushScope(reference.repository)
        return try await withRequestPermit(registry) {
            if let existing = try? await send(.HEAD, registry: registry, path: "/v2/\(reference.repository)/blobs/\(digest)", scope: scope) {
                _ = try? await existing.body.collect(upTo: ByteLimits.errorBody)
                return digest
            }
            let started = try await send(.POST, registry: registry, path: "/v2/\(reference.repository)/blobs/uploads/", scope: scope)
            _ = try? await started.body.collect(upTo: ByteLimits.errorBody)
            guard let location = started.headers.first(name: "Location") else {
                throw FathomError(.registry, "the registry started an upload without a Location", image: reference.description)
            }
            let separator = location.contains("?") ? "&" : "?"
            let finished = try await send(
                .PUT, registry: registry, path: location + separator + "digest=\(digest)", scope: scope,
                headers: [("Content-Type", "application/octet-stream")], body: bytes)
            _ = try? await finished.body.collect(upTo: ByteLimits.errorBody)
            return digest
        }
    }

    /// Stores a manifest under `reference`'s tag; returns its digest.
    @discardableResult
    public func putManifest(_ reference: ImageReference, _ bytes: [UInt8], mediaType: MediaType) async throws -> Digest {
        try await withRequestPermit(reference.apiHost) {
            let response = try await send(
                .PUT, registry: reference.apiHost, path: "/v2/\(reference.repository)/manifests/\(reference.manifestReference)",
                scope: Self.pushScope(reference.repository), headers: [("Content-Type", mediaType.rawValue)], body: bytes)
            _ = try? await response.body.collect(upTo: ByteLimits.errorBody)
            return Digest.sha256(of: bytes)
        }
    }
}
