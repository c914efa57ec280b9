import FathomAdvisory
import FathomCore
import FathomLayer
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomReport
import FathomStore
import Foundation
import Hummingbird
import Logging

/// Harbor's pluggable scanner adapter API (goharbor/pluggable-scanner-spec v1.1/1.2): Harbor
/// asks for a scan with the registry's URL and a short-lived authorization, polls for the
/// report, and reads it as `application/vnd.security.vulnerability.report; version=1.1`.
/// The authorization is used for that scan only: the scan runs in this process with a client
/// of its own and nothing of it is stored (a queued job would have to keep it); the report is
/// kept with the others.
actor HarborScans {
    enum State {
        case running
        case done([UInt8])
        case failed(String)
    }

    private var states: [String: State] = [:]
    private var order: [String] = []
    /// Scan requests remembered (the oldest are forgotten: Harbor asks for a report soon).
    let capacity = 10_000

    func start(_ id: String) {
        states[id] = .running
        order.append(id)
        if order.count > capacity { states[order.removeFirst()] = nil }
    }

    func finish(_ id: String, _ state: State) { if states[id] != nil { states[id] = state } }

    func state(_ id: String) -> State? { states[id] }
}

extension ServiceRoutes {
    static let harborMetadataType = "application/vnd.scanner.adapter.metadata+json; version=1.0"
    static let harborReportType = "application/vnd.security.vulnerability.report; version=1.1"
    static let harborLegacyReportType = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
    static let harborErrorType = "application/vnd.scanner.adapter.error+json; version=1.0"

    func addHarborRoutes(to router: Router<BasicRequestContext>) {
        router.get("api/v1/metadata") { _, _ in try await harborMetadata() }
        router.post("api/v1/scan") { request, _ in try await harborScan(request) }
        router.get("api/v1/scan/{id}/report") { request, context in
            try await harborReport(id: context.parameters.get("id") ?? "", accept: request.headers[.accept])
        }
    }

    func harborMetadata() async throws -> Response {
        var properties = ["harbor.scanner-adapter/scanner-type": "os-package-vulnerability"]
        if let updated = try await store.advisoryStatistics().oldestUpdate {
            properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = ISO8601DateFormatter().string(from: updated)
        }
        let metadata: [String: Any] = [
            "scanner": ["name": "fathom", "vendor": "fathom", "version": FathomVersionInfo.version],
            "capabilities": [[
                // v1.2 names the kind of report; v1.1 readers ignore it.
                "type": "vulnerability",
                "consumes_mime_types": [MediaType.ociManifest.rawValue, MediaType.dockerManifest.rawValue],
                "produces_mime_types": [Self.harborReportType, Self.harborLegacyReportType],
            ]],
            "properties": properties,
        ]
        return Self.raw(try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys]), type: Self.harborMetadataType)
    }

    struct HarborScanRequest: Decodable {
        struct Registry: Decodable {
            var url: String?
            var authorization: String?
        }
        struct Artifact: Decodable {
            var repository: String?
            var digest: String?
            var tag: String?
            var mime_type: String?
        }
        var registry: Registry?
        var artifact: Artifact?
    }

    func harborScan(_ request: Request) async throws -> Response {
        let body = try await Self.body(request, limit: configuration.maxBodyBytes)
        guard let scan = try? JSONDecoder().decode(HarborScanRequest.self, from: Data(body)) else {
            return Self.harborError(.badRequest, "the body is not a scan request")
        }
        guard let url = scan.registry?.url, let components = URLComponents(string: url), let host = components.host,
            let repository = scan.artifact?.repository, let digestText = scan.artifact?.digest
        else {
            return Self.harborError(.unprocessableContent, "registry.url, artifact.repository and artifact.digest are required")
        }
        let registry = components.port.map { "\(host):\($0)" } ?? host
        let reference: ImageReference
        var credential: RegistryCredential?
        do {
            let digest = try Digest(parsing: digestText)
            reference = ImageReference(registry: registry, repository: repository, tag: scan.artifact?.tag, digest: digest)
            credential = try scan.registry?.authorization.map(Self.credential(fromAuthorization:))
        } catch {
            return Self.harborError(.unprocessableContent, "\(error)")
        }
        let client: RegistryClient
        do {
            client = try RegistryClient(
                configuration: RegistryClientConfiguration(
                    credentials: CredentialStore(explicit: credential.map { [registry: $0] } ?? [:], dockerConfigPath: nil),
                    insecureRegistries: components.scheme == "http" ? [registry] : []))
        } catch {
            return Self.harborError(.internalServerError, "\(error)")
        }
        let id = UUID().uuidString.lowercased()
        await harbor.start(id)
        let (runner, harbor, mimeType) = (self.runner, self.harbor, scan.artifact?.mime_type)
        Task {
            do {
                let document = try await runner?.harborScan(reference, client: client, mimeType: mimeType)
                await harbor.finish(id, document.map(HarborScans.State.done) ?? .failed("this process runs no scanner (--workers 0)"))
            } catch {
                await harbor.finish(id, .failed("\(FathomError.wrapping(error, image: reference.description))"))
            }
            try? await client.shutdown()
        }
        return Self.raw(
            try JSONSerialization.data(withJSONObject: ["id": id]), type: "application/vnd.scanner.adapter.scan.response+json; version=1.0",
            status: .accepted)
    }

    func harborReport(id: String, accept: String?) async throws -> Response {
        switch await harbor.state(id) {
        case nil:
            return Self.harborError(.notFound, "no scan request \(id)")
        case .running:
            var response = Response(status: .found)
            response.headers[.init("Refresh-After")!] = "2"
            response.headers[.location] = "/api/v1/scan/\(id)/report"
            return response
        case .failed(let message):
            return Self.harborError(.internalServerError, message)
        case .done(let report):
            let type = accept?.contains("vuln.report.harbor+json") == true ? Self.harborLegacyReportType : Self.harborReportType
            return Self.raw(Data(report), type: type)
        }
    }

    /// A registry credential from an HTTP Authorization value (`Basic base64(user:password)`).
    static func credential(fromAuthorization value: String) throws -> RegistryCredential {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let decoded = Data(base64Encoded: String(parts[1])),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else {
            throw FathomError(.unsupported, "registry.authorization must be Basic credentials (robot account)")
        }
        return RegistryCredential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    static func raw(_ data: Data, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func harborError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": ["message": message]])) ?? Data()
        return raw(data, type: harborErrorType, status: status)
    }
}

extension ScanRunner {
    /// Scans an image for Harbor with the client its request brought, stores the report as any
    /// other, and returns it as Harbor's vulnerability report.
    nonisolated func harborScan(_ reference: ImageReference, client: RegistryClient, mimeType: String?) async throws -> [UInt8] {
        try await harborSlots.acquire()
        defer { harborSlots.release() }
        let session = try await currentSession()
        // Named as the webhook and POST /v1/scans name it (host/repository:tag), so that an image
        // Harbor asks about is one image in the fleet, not a second one under its digest.
        let name =
            reference.tag.map { "\(reference.registry)/\(reference.repository):\($0)" }
            ?? "\(reference.registry)/\(reference.repository)@\(reference.digest?.description ?? "")"
        let outcome = await session.scan(
            FleetJob(
                name: name, source: RegistryImageSource(reference: reference, client: client, documents: store), repository: reference.repository,
                tag: reference.tag))
        try await session.fleet.flush()
        switch outcome {
        case .scanned(let result):
            try await store.storeReport(
                Array(try result.report.json().utf8), name: name, repository: reference.repository, tag: reference.tag,
                manifestDigest: result.report.artifact.manifestDigest)
            return try HarborReport.encode(result.report, repository: reference.repository, digest: reference.digest, tag: reference.tag, mimeType: mimeType)
        case .failed(_, let error):
            throw error
        case .skipped(_, let reason):
            throw FathomError(.invalidInput, reason, image: name)
        case .unchanged, .rematched:
            throw FathomError(.invalidInput, "the image was not scanned", image: name)
        }
    }
}
