import FathomAdvisory
import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomEngine
import FathomReport
import FathomStore
import Crypto
import Foundation
import Hummingbird
import Logging

/// Harbor's pluggable scanner adapter API (goharbor/pluggable-scanner-spec v1.1/1.2): Harbor
/// asks for a scan with the registry's URL and a short-lived authorization, polls for the
/// report, and reads it as `application/vnd.security.vulnerability.report; version=1.1`.
/// A scan request is a job of the queue like any other: its id is the job's, so any replica
/// answers the poll and `serve --workers 0` with workers behind it serves Harbor. The
/// authorization travels with the job sealed (AES-256-GCM) under `--harbor-credential-key-file`
/// (without it, a key this process made at start, so only its own workers can open it); it is
/// never stored in plain text, and the sealed copy is dropped from the job's record when the job
/// ends (`Job.secretPayloadField` names `sealedAuthorization`).
struct HarborJob: Codable {
    var registry: String
    /// The registry's URL was http:// (Harbor's own registry inside its network).
    var insecure: Bool
    var repository: String
    var digest: String
    var tag: String?
    var mimeType: String?
    /// The `Authorization` value Harbor sent, sealed; nil when it sent none.
    var sealedAuthorization: String?

    /// The name of an artifact Harbor gives no tag, or whose tag has moved on (`harborName`).
    var nameByDigest: String { "\(registry)/\(repository)@\(digest)" }
}

/// The key Harbor's registry authorizations are sealed with while their jobs wait.
public struct HarborCredentialKey: Sendable {
    let key: SymmetricKey
    /// Whether the key came from a file every replica shares (else this process made it).
    public let shared: Bool

    /// A key of this process's own: only its workers can open what it seals.
    public static func ephemeral() -> HarborCredentialKey { HarborCredentialKey(key: SymmetricKey(size: .bits256), shared: false) }

    /// The key in `file` (any secret text: its SHA-256 is the AES-256 key), shared by every
    /// `serve` and `worker` given the same file.
    public static func file(_ path: String) throws -> HarborCredentialKey {
        let secret = try ServiceConfiguration.token(file: path, what: "Harbor credential key file (--harbor-credential-key-file)")
        return HarborCredentialKey(key: SymmetricKey(data: SHA256.hash(data: Data(secret.utf8))), shared: true)
    }

    func seal(_ text: String) throws -> String {
        guard let combined = try AES.GCM.seal(Data(text.utf8), using: key).combined else {
            throw FathomError(.invalidInput, "the registry authorization could not be sealed")
        }
        return combined.base64EncodedString()
    }

    /// A mark of `text` that says nothing of it without the key: two requests with the same
    /// credentials share it, two with different ones do not.
    func fingerprint(_ text: String) -> String {
        // A key of its own, derived from the sealing key: one key, one use.
        let marking = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("fathom harbor credential fingerprint".utf8), outputByteCount: 32)
        return HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: marking).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let opened = try? AES.GCM.open(box, using: key)
        else {
            throw FathomError(
                .unauthorized,
                shared
                    ? "the Harbor scan's registry authorization cannot be opened: give every serve and worker the same --harbor-credential-key-file"
                    : "the Harbor scan's registry authorization was sealed by another process: give every serve and worker the same --harbor-credential-key-file")
        }
        return String(decoding: opened, as: UTF8.self)
    }
}

extension ServiceRoutes {
    static let harborMetadataType = "application/vnd.scanner.adapter.metadata+json; version=1.0"
    static let harborReportType = "application/vnd.security.vulnerability.report; version=1.1"
    static let harborLegacyReportType = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
    static let harborErrorType = "application/vnd.scanner.adapter.error+json; version=1.0"

    /// What fathom scans for Harbor: image manifests (an index's manifests Harbor asks for one by one).
    static let harborConsumedTypes = [MediaType.ociManifest.rawValue, MediaType.dockerManifest.rawValue]

    func addHarborRoutes(to router: Router<BasicRequestContext>) {
        router.get("api/v1/metadata") { _, _ in try await harborMetadata() }
        router.post("api/v1/scan") { request, _ in try await harborScan(request) }
        router.get("api/v1/scan/{id}/report") { request, context in
            try await harborReport(id: context.parameters.get("id") ?? "", accept: request.headers[.accept])
        }
    }

    func harborMetadata() async throws -> Response {
        var properties = ["harbor.scanner-adapter/scanner-type": "os-package-vulnerability"]
        if let updated = try await store.advisoryFeeds().oldestUpdate {
            properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = ISO8601DateFormatter().string(from: updated)
        }
        let metadata: [String: Any] = [
            "scanner": ["name": "fathom", "vendor": "fathom", "version": FathomVersionInfo.version],
            "capabilities": [[
                // v1.2 names the kind of report; v1.1 readers ignore it.
                "type": "vulnerability",
                "consumes_mime_types": Self.harborConsumedTypes,
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
        struct Capability: Decodable {
            var type: String?
        }
        var registry: Registry?
        var artifact: Artifact?
        var enabled_capabilities: [Capability]?
    }

    func harborScan(_ request: Request) async throws -> Response {
        let body = try await Self.body(request, limit: configuration.maxBodyBytes)
        guard let scan = try? JSONDecoder().decode(HarborScanRequest.self, from: Data(body)) else {
            return Self.harborError(.badRequest, "the body is not a scan request")
        }
        guard let url = scan.registry?.url, let repository = scan.artifact?.repository, let digestText = scan.artifact?.digest else {
            return Self.harborError(.unprocessableContent, "registry.url, artifact.repository and artifact.digest are required")
        }
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            components.scheme == "http" || components.scheme == "https"
        else {
            return Self.harborError(.unprocessableContent, "registry.url must be the registry's http:// or https:// URL, not \(url)")
        }
        // What fathom cannot do is said at once (v1.2's 501), not after a scan that fails or
        // reports a Helm chart or an index as an image without findings.
        if let capabilities = scan.enabled_capabilities, !capabilities.contains(where: { $0.type == "vulnerability" }) {
            return Self.harborError(
                .notImplemented,
                "fathom makes vulnerability reports only; the request enables \(capabilities.compactMap(\.type).joined(separator: ", "))")
        }
        if let type = scan.artifact?.mime_type, !type.isEmpty, !Self.harborConsumedTypes.contains(type) {
            let why = [MediaType.ociIndex.rawValue, MediaType.dockerManifestList.rawValue].contains(type)
                ? "is an index: ask for each of its manifests by digest"
                : "is not an image manifest, and fathom scans only those (\(Self.harborConsumedTypes.joined(separator: ", ")))"
            return Self.harborError(.notImplemented, "artifact.mime_type \(type) \(why)")
        }
        if let tag = scan.artifact?.tag, !tag.isEmpty, tag.wholeMatch(of: /[A-Za-z0-9_][A-Za-z0-9._-]{0,127}/) == nil {
            return Self.harborError(.unprocessableContent, "artifact.tag \(tag) is not a tag (letters, digits, _ . -, up to 128)")
        }
        // The registry's address, not a page of it: Harbor sends its core's root.
        guard components.path.isEmpty || components.path == "/", components.query == nil else {
            return Self.harborError(.unprocessableContent, "registry.url must be the registry's address with no path, not \(url)")
        }
        let asked = components.port.map { "\(host):\($0)" } ?? host
        // Held to the registries --registry names, as the webhook's events are (Harbor sends
        // both): the API token must not make fathom fetch from any host a request names. With
        // exactly one plain --registry, Harbor's own address for itself is that registry as
        // this service reaches it. (422: the adapter API's answer for a request it will not take.)
        let named = configuration.registries.isEmpty ? asked : configuration.registry(forEvent: asked)
        guard let registry = named else {
            return Self.harborError(
                .unprocessableContent,
                "\(asked) is not a registry this service scans from (--registry \(configuration.registries.joined(separator: ", ")))")
        }
        let authorization = scan.registry?.authorization.flatMap { $0.isEmpty ? nil : $0 }
        let digest: FathomCore.Digest
        let sealed: String?
        do {
            digest = try FathomCore.Digest(parsing: digestText)
            _ = try ImageReference(parsing: "\(registry)/\(repository)@\(digest)")
            // Checked now (a malformed one is the request's error), sealed for the job.
            _ = try authorization.map(Self.credential(fromAuthorization:))
            sealed = try authorization.map { try configuration.harborCredentialKey.seal($0) }
        } catch {
            return Self.harborError(.unprocessableContent, "\(error)")
        }
        let tag = scan.artifact?.tag.flatMap { $0.isEmpty ? nil : $0 }
        let details = HarborJob(
            registry: registry, insecure: components.scheme == "http", repository: repository, digest: digest.description, tag: tag,
            mimeType: scan.artifact?.mime_type, sealedAuthorization: sealed)
        // Named as the webhook and POST /v1/scans name it (host/repository:tag), so that an image
        // Harbor asks about is one image of the fleet, not a second one under its digest.
        let name = tag.map { "\(registry)/\(repository):\($0)" } ?? details.nameByDigest
        let payload = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
        // One job per artifact, tag and credentials: Harbor asking again is the same job, but a
        // request with other credentials (Harbor's robot account of a stopped scan is deleted)
        // or another tag is its own, never answered by a job that uses the earlier ones. (The
        // credentials are told apart under the sealing key: processes without a shared
        // --harbor-credential-key-file do not recognise each other's requests.)
        let key = "harbor \(details.nameByDigest) \(tag ?? "-") \(authorization.map(configuration.harborCredentialKey.fingerprint) ?? "-")"
        let (id, _) = try await store.enqueue(
            NewJob(kind: .harbor, key: key, image: name, repository: repository, reference: digest.description, payload: payload), now: Date())
        return Self.raw(
            try JSONSerialization.data(withJSONObject: ["id": String(id)]), type: "application/vnd.scanner.adapter.scan.response+json; version=1.0",
            status: .accepted)
    }

    func harborReport(id: String, accept: String?) async throws -> Response {
        guard let number = Int64(id), let job = try await store.job(number), job.kind == .harbor, let payload = job.payload,
            let details = try? JSONDecoder().decode(HarborJob.self, from: Data(payload.utf8))
        else {
            return Self.harborError(.notFound, "no scan request \(id)")
        }
        // A report fathom does not make is said at once, not after the scan it waits for.
        guard let type = Self.harborReportType(accepting: accept) else {
            return Self.harborError(
                .notImplemented, "fathom makes the reports \(Self.harborReportType) and \(Self.harborLegacyReportType), not \(accept ?? "")")
        }
        switch job.state {
        case .queued, .running:
            var response = Response(status: .found)
            response.headers[.init("Refresh-After")!] = "2"
            response.headers[.location] = "/api/v1/scan/\(id)/report"
            return response
        case .dead:
            return Self.harborError(.internalServerError, job.lastError ?? "the scan failed")
        case .done:
            // Under the tag's name, or under the digest's when the tag had moved on (`harborName`).
            var found: ScanReport?
            var any = false
            for name in [job.image, details.nameByDigest] {
                guard let stored = try await store.report(name: name) else { continue }
                any = true
                let report = try ScanReport.decode(stored)
                if report.artifact.manifestDigest?.description == details.digest {
                    found = report
                    break
                }
            }
            guard any else { return Self.harborError(.internalServerError, "the scan's report is gone") }
            guard let report = found else {
                return Self.harborError(.internalServerError, "a newer scan of \(job.image) replaced this one's report: ask for a scan again")
            }
            let document = try HarborReport.encode(
                report, repository: details.repository, digest: report.artifact.manifestDigest, tag: details.tag, mimeType: details.mimeType)
            return Self.raw(Data(document), type: type)
        }
    }

    /// The report type an `Accept` value asks for: the 1.1 report when it names it, names none
    /// or takes anything; the 1.0 one when it names that; nil for any other (an SBOM, a raw report).
    static func harborReportType(accepting accept: String?) -> String? {
        let types = (accept ?? "").split(separator: ",").map { $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }
            .filter { !$0.isEmpty }
        if types.isEmpty || types.contains("application/vnd.security.vulnerability.report") || types.contains("*/*") { return harborReportType }
        if types.contains("application/vnd.scanner.adapter.vuln.report.harbor+json") { return harborLegacyReportType }
        return nil
    }

    /// A registry credential from an HTTP Authorization value: `Basic base64(user:password)` (a
    /// robot account) or `Bearer TOKEN` (a registry token); the scheme in any case (RFC 7235).
    static func credential(fromAuthorization value: String) throws -> RegistryCredential {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { throw FathomError(.unsupported, "registry.authorization must be Basic or Bearer credentials") }
        switch parts[0].lowercased() {
        case "basic":
            guard let decoded = Data(base64Encoded: String(parts[1])), let text = String(data: decoded, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else {
                throw FathomError(.invalidInput, "registry.authorization: Basic credentials are base64 of user:password")
            }
            return RegistryCredential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        case "bearer":
            return RegistryCredential(registryToken: parts[1].trimmingCharacters(in: .whitespaces))
        default:
            throw FathomError(.unsupported, "registry.authorization must be Basic or Bearer credentials, not \(parts[0])")
        }
    }

    static func raw(_ data: Data, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func harborError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: ["error": ["message": message]], options: [.withoutEscapingSlashes])) ?? Data()
        return raw(data, type: harborErrorType, status: status)
    }
}

extension ScanRunner {
    /// Scans an image for Harbor with the registry access its request brought (opened from the
    /// job only now, used for this scan only) and stores the report as any other.
    nonisolated func harbor(_ job: Job) async throws {
        guard let payload = job.payload, let details = try? JSONDecoder().decode(HarborJob.self, from: Data(payload.utf8)) else {
            throw FathomError(.invalidInput, "the Harbor job carries no scan request", image: job.image)
        }
        let authorization = try details.sealedAuthorization.map { try settings.harborCredentialKey.open($0) }
        let credential = try authorization.map(ServiceRoutes.credential(fromAuthorization:))
        let digest = try FathomCore.Digest(parsing: details.digest)
        let reference = ImageReference(registry: details.registry, repository: details.repository, tag: details.tag, digest: digest)
        let client = try RegistryClient(
            configuration: RegistryClientConfiguration(
                credentials: CredentialStore(explicit: credential.map { [details.registry: $0] } ?? [:], dockerConfigPath: nil),
                insecureRegistries: details.insecure ? [details.registry] : []))
        do {
            let name = await harborName(job, digest: digest, details: details, client: client)
            let session = try await currentSession(announced: true)
            let outcome = await session.scan(
                FleetJob(
                    name: name, source: RegistryImageSource(reference: reference, client: client, documents: store),
                    repository: reference.repository, tag: name == job.image ? reference.tag : nil))
            try await session.fleet.flush()
            switch outcome {
            case .scanned(let result):
                try await store.storeReport(
                    result.report, name: name, repository: reference.repository, tag: name == job.image ? reference.tag : nil)
            case .failed(_, let error):
                throw error
            case .skipped(_, let reason):
                throw FathomError(.invalidInput, reason, image: job.image)
            case .unchanged, .rematched, .removed:
                throw FathomError(.invalidInput, "the image was not scanned", image: job.image)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// The name a Harbor scan is kept under: the tag's Harbor gave (as a push names it), unless
    /// the registry's tag names another digest now (a later push, e.g. while this job waited out
    /// a retry) or is gone. Then this scan is kept under its digest's name, as Harbor's untagged
    /// artifacts are, and the tag's report stays the newer image's. The registry says, not the
    /// order reports landed in: a scan of the earlier of two quick pushes may end last.
    nonisolated func harborName(_ job: Job, digest: FathomCore.Digest, details: HarborJob, client: RegistryClient) async -> String {
        guard let tag = details.tag else { return job.image }
        do {
            let now = try await client.manifestDigest(ImageReference(registry: details.registry, repository: details.repository, tag: tag))
            return now == digest ? job.image : details.nameByDigest
        } catch let error as FathomError where error.code == .notFound {
            return details.nameByDigest
        } catch {
            logger.warning(
                "cannot ask the registry where the tag points now: the scan is kept under the tag",
                metadata: ["image": "\(job.image)", "error": "\(FathomError.plain(error))"])
            return job.image
        }
    }
}
