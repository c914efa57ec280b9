import FathomAdvisory
import FathomCore
import FathomOCI
import FathomReport
public import FathomStore
import Crypto
import Foundation
public import Hummingbird
import HTTPTypes
import Logging
import Metrics
public import Prometheus

/// The service's HTTP API (see `OpenAPIDocument`): the registry webhook, scan requests, reports,
/// scan histories, the job queue, and health, readiness and metrics.
public struct ServiceRoutes: Sendable {
    let store: any Store
    let configuration: ServiceConfiguration
    let metricsRegistry: PrometheusCollectorRegistry
    let webhookDeliveries = Counter(label: "fathom_webhook_deliveries_total")
    let imagesRemoved = Counter(label: "fathom_images_removed_total")
    /// What scans Harbor's adapter API (nil: this process runs no workers).
    let runner: ScanRunner?
    let readiness = Readiness()
    /// The findings of reports stored before their listing existed.
    let listing: FindingsListing

    public init(store: any Store, configuration: ServiceConfiguration, metricsRegistry: PrometheusCollectorRegistry, runner: ScanRunner?) {
        self.store = store
        self.listing = FindingsListing(store: store)
        self.configuration = configuration
        self.metricsRegistry = metricsRegistry
        self.runner = runner
    }

    /// Health, readiness and metrics only: what a `fathom worker` serves for its probes and
    /// for Prometheus (the counters of the scans it runs live in its own process).
    public func healthRouter() -> Router<BasicRequestContext> {
        let router = Router()
        addHealthRoutes(to: router)
        router.refuseUndeclaredMethods(readOnlyEndings: ["scans"])
        return router
    }

    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in Self.json(["status": "ok"]) }
        router.get("readyz") { _, _ in try await ready() }
        // Load balancers' checks that ask with HEAD get the same status.
        router.head("healthz") { _, _ in Response(status: .ok) }
        router.head("readyz") { _, _ in Response(status: try await ready().status) }
        router.get("metrics") { _, _ in try await metrics() }
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FailureLog())
        router.add(middleware: BearerTokens(api: configuration.apiToken, webhook: configuration.webhookToken))
        router.add(middleware: StoreGate(store: store, readiness: readiness))
        router.add(middleware: ControlCharacters())
        addHealthRoutes(to: router)
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.post("v1/events") { request, context in try await events(request, context: context) }
        router.post("v1/scans") { request, context in try await requestScan(request, context: context) }
        router.post("v1/rescans") { request, _ in
            // It takes no body: one asking for less than the whole window (a repository, an
            // image) is refused rather than read as a rescan of everything.
            let body = String(decoding: try await Self.body(request, limit: configuration.maxBodyBytes), as: UTF8.self).filter { !$0.isWhitespace }
            // Clients that always send JSON send `{}` or `null`: nothing asked, taken.
            if !["", "{}", "null"].contains(body) {
                return Self.problem(
                    .badRequest,
                    "POST /v1/rescans takes no body: it re-matches every image in the rescan window (POST /v1/scans {\"image\": …} scans one image)")
            }
            // The same job the scheduler queues for this advisory data: one runs, however often asked.
            let key = "rescan for advisory data \(try await store.advisoryVersion())"
            let (id, added) = try await store.enqueue(NewJob(kind: .rescan, key: key, image: "", repository: nil, reference: nil), now: Date())
            return try Self.encoded(RescanAccepted(job: id, queued: added), status: .accepted)
        }
        // Each endpoint names the query parameters it takes: a misspelt one (`repo=` for
        // `repository=`, `cve=` for `id=`) is a 400, not an answer as if no filter were given.
        router.get("v1/images") { request, context in
            if let refusal = Self.refuseQuery(request, takes: ["repository", "registry", "severity", "q", "limit", "cursor"]) { return refusal }
            return try await images(request, logger: context.logger)
        }
        router.get("v1/images/**") { request, context in
            let history = Self.isHistory(Self.imagePath(context.parameters.getCatchAll()))
            if let refusal = Self.refuseQuery(request, takes: history ? ["registry", "limit", "cursor"] : ["registry"]) { return refusal }
            return try await image(context.parameters.getCatchAll(), request: request)
        }
        router.delete("v1/images/**") { request, context in
            // A history is not deleted: its 405 comes before what the query asks.
            if !Self.isHistory(Self.imagePath(context.parameters.getCatchAll())), let refusal = Self.refuseQuery(request, takes: ["registry"]) {
                return refusal
            }
            return try await forget(context.parameters.getCatchAll(), request: request, logger: context.logger)
        }
        router.get("v1/findings") { request, context in
            if let refusal = Self.refuseQuery(request, takes: ["id", "severity", "fixable", "limit", "cursor"]) { return refusal }
            return try await findings(request, context: context)
        }
        router.get("v1/fleet/summary") { request, context in
            if let refusal = Self.refuseQuery(request, takes: []) { return refusal }
            return try await fleetSummary(logger: context.logger)
        }
        router.get("v1/jobs/summary") { request, _ in
            if let refusal = Self.refuseQuery(request, takes: []) { return refusal }
            return try await jobSummary()
        }
        router.get("v1/jobs/{id}") { request, context in
            if let refusal = Self.refuseQuery(request, takes: []) { return refusal }
            guard let id = context.parameters.get("id", as: Int64.self), let job = try await store.job(id) else {
                return Self.problem(.notFound, "no such job")
            }
            return try Self.encoded(JobView(job))
        }
        router.get("v1/jobs") { request, _ in
            if let refusal = Self.refuseQuery(request, takes: ["state", "limit", "cursor"]) { return refusal }
            return try await jobs(request)
        }
        addHarborRoutes(to: router)
        addDashboardRoutes(to: router)
        router.refuseUndeclaredMethods(readOnlyEndings: ["scans"])
        return router
    }

    // MARK: health

    func ready() async throws -> Response {
        guard let problem = await readiness.problem(of: store) else { return Self.json(["status": "ready"]) }
        return Self.problem(.serviceUnavailable, problem)
    }

    /// Prometheus text. `fathom_store_up` is the readiness probe's answer; the gauges read from
    /// the store (jobs per state, advisory data age) are asked only when it is up, within two
    /// seconds, and left as last read otherwise: a store that does not answer never holds the
    /// scrape (and loses every other metric) until the connection pool gives up.
    func metrics() async throws -> Response {
        let up = await readiness.problem(of: store) == nil
        if up {
            let store = self.store
            let read = Locked<(counts: [Job.State: Int], oldest: Date?, waiting: Int)?>(nil)
            let gauges = Task {
                let counts = try await store.jobCounts()
                let oldest = try await store.advisoryFeeds().oldestUpdate
                let waiting = try await store.waitingNotifications()
                read.withLock { $0 = (counts, oldest, waiting) }
            }
            if case .success? = await WorkerPool.outcome(of: gauges, within: .seconds(2)), let (counts, oldest, waiting) = read.withLock({ $0 }) {
                for state in Job.State.allCases {
                    Gauge(label: "fathom_jobs", dimensions: [("state", state.rawValue)]).record(counts[state] ?? 0)
                }
                // Notifications no receiver has accepted yet (a receiver down, or no process left
                // that sends to it): a backlog that only grows is worth an alert.
                Gauge(label: "fathom_notifications_waiting").record(waiting)
                if let oldest { Gauge(label: "fathom_advisory_data_age_seconds").record(Date().timeIntervalSince(oldest)) }
            } else {
                gauges.cancel()
            }
        }
        Gauge(label: "fathom_store_up").record(up ? 1 : 0)
        var buffer: [UInt8] = []
        metricsRegistry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    // MARK: webhook

    /// The CNCF registry's notification envelope, or Harbor's webhook payload. A manifest push
    /// queues a scan of it (one pending job per image and digest); a deleted manifest or tag
    /// takes its images out of the fleet; every event is recorded (by event id: a repeated
    /// delivery changes nothing).
    func events(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await Self.body(request, limit: configuration.maxBodyBytes)
        let events: [RegistryEvent]
        do {
            let read = try WebhookPayload.events(body, receivedAt: Date())
            events = read.events
            for unreadable in read.unreadable {
                context.logger.warning("registry event not read: nothing done for it", metadata: ["event": "\(unreadable)"])
            }
        } catch {
            webhookDeliveries.increment()
            return Self.problem(.badRequest, "\(error)")
        }
        webhookDeliveries.increment()
        var added = 0
        var queued: [Int64] = []
        var removed: [String] = []
        for event in events {
            let acts = event.action == .push && WebhookPayload.isManifest(event) || event.action == .delete
            let host = configuration.registry(forEvent: event.host)
            if acts && host == nil {
                context.logger.warning(
                    "registry event refused: its registry is not one --registry names",
                    metadata: ["host": "\(event.host ?? "none")", "repository": "\(event.repository)", "allowed": "\(configuration.registries)"])
            }
            // Recorded one by one, before acting: a scan job that stores a report after this
            // delete's removal sees the event and takes its report out itself.
            let new = try await store.importEvents([event]) == 1
            if new { added += 1 }
            // A delete acts however often it comes (a delivery that failed midway acts when
            // delivered again; acting twice is harmless); only a push seen for the first time
            // queues a scan.
            if event.action == .delete, let host { removed += try await removeDeleted(event, host: host, logger: context.logger) }
            guard new, event.action == .push, acts, let host else { continue }
            let (id, _) = try await store.enqueue(WebhookPayload.job(for: event, host: host), now: Date())
            queued.append(id)
        }
        return try Self.encoded(EventsAccepted(events: events.count, new: added, jobs: queued, removed: removed), status: .accepted)
    }

    func removeDeleted(_ event: RegistryEvent, host: String, logger: Logger) async throws -> [String] {
        let removed = try await store.removeDeleted(event, host: host)
        imagesRemoved.increment(by: removed.count)
        for name in removed { logger.info("deleted from the registry: out of the fleet", metadata: ["image": "\(name)"]) }
        return removed
    }

    // MARK: scans

    struct ScanRequest: Decodable {
        var image: String
        /// A policy for this image (severity, ignoreUnfixed, ignore lines, VEX documents, skipDirs, skipFiles).
        var policy: RequestPolicy?
    }

    /// Names the members of a scan request's body (or of its policy) that fathom does not know:
    /// a misspelled rule would otherwise be scanned without (`severities`, `ignore_unfixed`).
    static func unknownMembers(of body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        let known = Set(["image", "policy"])
        if let unknown = object.keys.filter({ !known.contains($0) }).sorted().first {
            return "the body has no member '\(unknown)' (it takes image and policy; a rule goes in policy)"
        }
        guard let policy = object["policy"] as? [String: Any] else { return nil }
        func unknownMember(of object: [String: Any], in place: String, known: [String]) -> String? {
            object.keys.filter { !known.contains($0) }.sorted().first.map { "\(place) has no member '\($0)': it takes \(known.joined(separator: ", "))" }
        }
        if let unknown = unknownMember(of: policy, in: "policy", known: RequestPolicy.CodingKeys.allCases.map(\.rawValue)) { return unknown }
        // An ignore rule's `expiry` would never expire, its `pkg` would name every package.
        for (member, known) in [
            ("ignore", RequestPolicy.IgnoreEntry.CodingKeys.allCases.map(\.rawValue)), ("vex", RequestPolicy.Statement.CodingKeys.allCases.map(\.rawValue)),
        ] {
            for (index, entry) in (policy[member] as? [Any] ?? []).enumerated() {
                if let entry = entry as? [String: Any], let unknown = unknownMember(of: entry, in: "policy.\(member)[\(index)]", known: known) {
                    return unknown
                }
            }
        }
        return nil
    }

    /// A decoding error as a person reads it: where, and what was expected there.
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "the body" : String(path.drop { $0 == "." })
        }
        switch error as? DecodingError {
        case .typeMismatch(let type, let context)?:
            let at = path(context)
            let expected = !"\(type)".contains("Array") ? "a \(type)" : at.hasSuffix("severity") ? #"an array such as ["HIGH", "CRITICAL"]"# : "an array"
            return "\(at) must be \(expected)"
        case .valueNotFound(_, let context)?: return "\(path(context)) must not be null"
        case .keyNotFound(let key, let context)?:
            return context.codingPath.isEmpty ? "'\(key.stringValue)' is missing" : "\(path(context)).\(key.stringValue) is missing"
        case .dataCorrupted(let context)?:
            if context.codingPath.isEmpty { return "it is not JSON" }
            let at = path(context)
            if at.contains("severity") { return "\(at) must be one of \(Severity.allCases.reversed().map(\.rawValue).joined(separator: ", "))" }
            return "\(at): \(context.debugDescription)"
        default: return FathomError.plain(error)
        }
    }

    /// What a scan job carries besides its image.
    struct ScanJobPayload: Codable {
        var policy: RequestPolicy?
    }

    func requestScan(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let body = try await Self.body(request, limit: configuration.maxBodyBytes)
        let scan: ScanRequest
        do {
            scan = try JSONDecoder().decode(ScanRequest.self, from: Data(body))
        } catch {
            return Self.problem(
                .badRequest, #"the body must be {"image": "host/repository:tag", "policy": {…}} (policy optional): "# + Self.describe(error))
        }
        if let unknown = Self.unknownMembers(of: body) { return Self.problem(.badRequest, unknown) }
        // A local layout or archive, where the operator allowed them.
        var local: LocalSources.Image?
        if LocalSources.isLocal(scan.image) {
            guard let directory = configuration.localSources else {
                return Self.problem(.badRequest, "this service scans registry images only (serve --allow-local-sources DIR lets it read OCI layouts under DIR)")
            }
            do {
                local = try LocalSources(directory).image(scan.image)
            } catch {
                return Self.problem(.badRequest, "\(error)")
            }
        }
        // The job's name for the image, and the repository and reference its report is found by.
        let (name, repository, at): (String, String, String?)
        var payload: String?
        do {
            if let local {
                (name, repository, at) = (local.name, local.repository, local.tag)
            } else {
                let reference = try ImageReference(parsing: scan.image)
                guard configuration.allows(scanOf: reference.registry) else {
                    return Self.problem(
                        .forbidden,
                        "\(reference.registry) is not a registry this service scans from (--registry \(configuration.registries.joined(separator: ", ")))")
                }
                (name, repository, at) = (reference.description, reference.repository, reference.digest?.description ?? reference.tag)
            }
            if let policy = scan.policy {
                // Checked now: a policy that does not parse is the request's error, not the job's.
                _ = try policy.applied(to: ScanPolicy())
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                payload = String(decoding: try encoder.encode(ScanJobPayload(policy: policy)), as: UTF8.self)
            }
        } catch {
            return Self.problem(.badRequest, "\(error)")
        }
        // A request with its own policy is its own job (another policy must not be folded into it).
        let key = "scan \(name)" + (payload.map { " policy " + SHA256.hash(data: Data($0.utf8)).map { String(format: "%02x", $0) }.joined() } ?? "")
        let (id, added) = try await store.enqueue(
            NewJob(kind: .scan, key: key, image: name, repository: repository, reference: at, payload: payload),
            now: Date())
        return try Self.encoded(ScanAccepted(job: id, queued: added, image: name), status: .accepted)
    }

    /// Whether the segments of `/v1/images/…` name an image's scan history (`…/{reference}/scans`).
    static func isHistory(_ parts: [String]) -> Bool { parts.count >= 3 && parts.last == "scans" }

    /// The segments of `/v1/images/{repository}/{reference}…`: the repository's slashes may
    /// come percent-encoded inside one segment.
    static func imagePath(_ path: [Substring]) -> [String] {
        path.map(String.init).joined(separator: "/").removingPercentEncoding?.split(separator: "/").map(String.init) ?? []
    }

    /// `DELETE /v1/images/{repository}/{tag or digest}`: takes the image out of the fleet, as
    /// the registry's delete event does (for a registry that sends none). A digest is every
    /// name of the repository whose report is of it. The registry is not touched.
    func forget(_ path: [Substring], request: Request, logger: Logger) async throws -> Response {
        let parts = Self.imagePath(path)
        // …/scans is the image's history, as GET reads it: it is not deleted on its own.
        if Self.isHistory(parts) { return MethodNotAllowed<BasicRequestContext>.refusal(.delete, allow: "GET") }
        guard parts.count >= 2, let reference = parts.last else {
            return Self.problem(.notFound, "name an image: /v1/images/{repository}/{tag or digest}")
        }
        let repository = parts.dropLast().joined(separator: "/")
        let wanted = request.uri.queryParameters.get("registry")
        let candidates = try await store.reports(repository: repository, reference: reference)
        let names: [String]
        switch Self.resolve(candidates, registry: wanted) {
        case .ambiguous(let registries):
            return Self.ambiguous(repository, at: reference, registries: registries)
        case .found(let name, _):
            let registry = Self.registry(of: name) ?? ""
            names = candidates.map(\.name).filter { Self.registry(of: $0) == registry }
        case .none:
            // A name with no report whose scan failed for good (a mistyped POST /v1/scans, an
            // image deleted before it was scanned): deleting it ends the fleet's failure.
            let dead = try await newestJobs(repository: repository, reference: reference, registry: wanted).filter { $0.state == .dead && $0.kind == .scan }
            if dead.count > 1 { return Self.ambiguous(repository, at: reference, registries: dead.compactMap { Self.registry(of: $0.image) }.sorted()) }
            guard let job = dead.first else {
                return Self.problem(.notFound, "no scan of \(repository) at \(reference)" + (wanted.map { " in \($0)" } ?? ""))
            }
            names = [job.image]
        }
        let removed = try await store.removeImages(names)
        guard !removed.isEmpty else { return Self.problem(.notFound, "no image of the fleet is \(repository) at \(reference)") }
        imagesRemoved.increment(by: removed.count)
        for name in removed { logger.info("removed on request: out of the fleet", metadata: ["image": "\(name)"]) }
        return try Self.encoded(ImagesRemoved(removed: removed))
    }

    /// `…/{repository}/{reference}` → the newest report; `…/{reference}/scans` → the history.
    func image(_ path: [Substring], request: Request) async throws -> Response {
        let wanted = request.uri.queryParameters.get("registry")
        var parts = Self.imagePath(path)
        let history = Self.isHistory(parts)
        if history { parts.removeLast() }
        guard parts.count >= 2, let reference = parts.last else {
            return Self.problem(.notFound, "name an image: /v1/images/{repository}/{tag or digest}")
        }
        let repository = parts.dropLast().joined(separator: "/")
        // An image is a registry, a repository and a reference: the same repository and tag in two
        // registries are two images. Without ?registry=, a name one registry holds answers as is.
        let found: (name: String, document: [UInt8])?
        switch Self.resolve(try await store.reports(repository: repository, reference: reference), registry: wanted) {
        case .ambiguous(let registries):
            return Self.ambiguous(repository, at: reference, registries: registries)
        case .found(let name, let document): found = (name, document)
        case .none: found = nil
        }
        if history {
            let scans = try await store.scanHistory(repository: repository, reference: reference).filter { summary in
                found.map { summary.name == $0.name } ?? (wanted.map { Self.registry(summary.name, isWithin: $0) } ?? true)
            }
            guard !scans.isEmpty else { return Self.problem(.notFound, "no scan of \(repository) at \(reference)") }
            guard let limit = Self.limit(request, default: 100, maximum: 1000) else { return Self.problem(.badRequest, "limit is 1 to 1000") }
            // Newest first; a page starts after the scan its cursor names.
            var first = 0
            switch Paging.position(request, as: ScanPosition.self) {
            case .failure(let problem): return problem.response
            case .success(let position?):
                first = (scans.firstIndex { $0.name == position.name && $0.scannedAt == position.scannedAt }).map { $0 + 1 }
                    ?? scans.firstIndex { $0.scannedAt < position.scannedAt } ?? scans.count
            case .success(nil): break
            }
            let page = scans[first...].prefix(limit)
            var response = try Self.encoded(Array(page))
            let more = first + page.count < scans.count
            Paging.link(&response, request: request, next: more ? page.last.map { ScanPosition(name: $0.name, scannedAt: $0.scannedAt).cursor } : nil)
            return response
        }
        // The job of the image asked for: the one whose report was found, else the registry named.
        let jobs = try await newestJobs(repository: repository, reference: reference, registry: wanted)
        let job: Job?
        if let found {
            job = jobs.first { Self.registry(of: $0.image) == Self.registry(of: found.name) }
        } else if jobs.count > 1 {
            return Self.ambiguous(repository, at: reference, registries: jobs.compactMap { Self.registry(of: $0.image) }.sorted())
        } else {
            job = jobs.first
        }
        if let job, job.state == .queued || job.state == .running {
            return try Self.encoded(JobView(job), status: .accepted)
        }
        if let found {
            var response = Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: found.document)))
            for (name, value) in try await freshness(repository: repository, reference: reference, name: found.name) { response.headers[name] = value }
            // The report is the last one made; a scan since (a push, a moved tag) failed for good.
            if let job, job.state == .dead {
                response.headers[Self.lastScanFailed] = "job \(job.id): " + (job.lastError ?? "no error recorded").replacingOccurrences(of: "\n", with: " ")
            }
            return response
        }
        if let job, job.state == .dead {
            // The error shape every failure has, with the job that failed.
            let cause = (job.lastError ?? "no error recorded").replacingOccurrences(of: "\n", with: " ")
            return try Self.encoded(
                ErrorBody(error: .init(message: "the last scan of \(job.image) failed for good (job \(job.id)): \(cause)", job: JobView(job))),
                status: .unprocessableContent)
        }
        return Self.problem(.notFound, "no scan of \(repository) at \(reference)" + (wanted.map { " in \($0)" } ?? ""))
    }

    enum Resolved {
        case found(name: String, document: [UInt8])
        case ambiguous([String])
        case none
    }

    /// The report `registry` holds (nil: the one registry that holds the name), or the registries
    /// to choose from when several hold it.
    static func resolve(_ candidates: [(name: String, document: [UInt8])], registry wanted: String?) -> Resolved {
        let matching = candidates.filter { candidate in wanted.map { registry(candidate.name, isWithin: $0) } ?? true }
        let registries = Set(matching.map { registry(of: $0.name) })
        if registries.count > 1 { return .ambiguous(registries.compactMap { $0 }.sorted()) }
        guard let newest = matching.first else { return .none }
        return .found(name: newest.name, document: newest.document)
    }

    /// 409: the repository and reference are held by several registries, listed for the caller to name one.
    /// The newest job of each registry for a repository and reference (an image is its registry,
    /// repository and reference), newest first; only those of `registry` when given.
    func newestJobs(repository: String, reference: String, registry wanted: String?) async throws -> [Job] {
        var seen = Set<String>()
        return try await store.latestJobs(repository: repository, reference: reference, limit: 100).filter { job in
            (wanted.map { Self.registry(job.image, isWithin: $0) } ?? true) && seen.insert(Self.registry(of: job.image) ?? job.image).inserted
        }
    }

    static func ambiguous(_ repository: String, at reference: String, registries: [String]) -> Response {
        problem(
            .conflict, "\(repository) at \(reference) is held by \(registries.count) registries: name one with ?registry=HOST[:PORT]",
            registries: registries)
    }

    /// The registry host of a stored name (`host:port/repo:tag`).
    static func registry(of name: String) -> String? {
        (try? ImageReference(parsing: name))?.registry
    }

    /// Whether a stored name is under the registry `wanted` names (the host alone: at any port).
    static func registry(_ name: String, isWithin wanted: String) -> Bool {
        registry(of: name).map { ImagesFilter.registry($0, isWithin: wanted) } ?? false
    }

    // MARK: fleet

    struct AffectedImage: Encodable {
        var image: String
        var manifestDigest: String?
        var id: String
        var aliases: [String]
        var package: String
        var installedVersion: String
        var fixedVersion: String?
        var severity: String
        var status: String
    }

    /// `count` and `images` are of the whole fleet; `findings` one page of them, `next` the
    /// cursor of the next page (`truncated` when there is one).
    struct FindingsAnswer: Encodable {
        var count: Int
        var images: Int
        var truncated: Bool
        var findings: [AffectedImage]
        var next: String?
    }

    /// A page of a scan history starts after this scan: `MILLISECONDS:NAME`.
    struct ScanPosition: PagePosition {
        var name: String
        var scannedAt: Date
        init(name: String, scannedAt: Date) {
            self.name = name
            self.scannedAt = scannedAt
        }
        init?(cursor: String) {
            guard let (milliseconds, name) = Self.numbered(cursor, digits: 15) else { return nil }
            self.init(name: name, scannedAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        }
        var cursor: String { "\(Int64((scannedAt.timeIntervalSince1970 * 1000).rounded())):\(name)" }
    }

    /// A page of images starts after this name.
    struct ImagePosition: PagePosition {
        var name: String
        init(name: String) { self.name = name }
        init?(cursor: String) {
            // No name holds a control character (PostgreSQL refuses a NUL in text).
            guard !cursor.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return nil }
            self.init(name: cursor)
        }
        var cursor: String { name }
    }

    /// One image of `GET /v1/images`: its newest report, summed up.
    struct ListedImage: Encodable {
        var image: String
        var registry: String?
        var repository: String?
        var tag: String?
        var manifestDigest: String?
        var os: String?
        var findings: Int
        var bySeverity: [String: Int]
        var fixable: Int
        var exploited: Int
        /// What its packages were not checked against (no advisory data for its release, …);
        /// absent when every package was checked.
        var notChecked: [String]?
        /// The advisory data version its findings were matched against, and whether that is the
        /// store's now: false for an image no rescan has reached since the advisories changed
        /// (outside `--rescan-window`, or still pending), whose findings may be out of date.
        var matchedAgainst: String?
        var upToDate: Bool?
        /// True when a policy left findings of its packages out of its report (its scan request's
        /// own, the service's filters, ignore rules or VEX): its counts are not all it holds.
        var policyLeftFindingsOut: Bool?
    }

    struct ImagesAnswer: Encodable {
        var images: [ListedImage]
        var next: String?
    }

    /// Every image with a report, in name order, a page at a time: filtered by `repository`,
    /// `registry`, `severity` (a finding of one of these) and `q` (in the name, a package's name,
    /// or a finding's id or alias).
    func images(_ request: Request, logger: Logger) async throws -> Response {
        let filter: ImageFilter
        switch ImageFilter.parse(request) {
        case .failure(let problem): return problem.response
        case .success(let parsed): filter = parsed
        }
        guard let answer = try await listImages(filter, logger: logger) else { return Self.listingPending() }
        var response = try Self.encoded(answer)
        Paging.link(&response, request: request, next: answer.next)
        return response
    }

    /// What `GET /v1/images` and the dashboard's image list ask: filters, a page size, a cursor.
    struct ImageFilter {
        var repository: String?
        var registry: String?
        var severities: Set<Severity>?
        var q: String?
        var limit: Int
        var after: String?

        static func parse(_ request: Request) -> Result<ImageFilter, ProblemResponse> {
            let query = request.uri.queryParameters
            guard let limit = ServiceRoutes.limit(request, default: 100, maximum: 1000) else {
                return .failure(ProblemResponse(ServiceRoutes.problem(.badRequest, "limit is 1 to 1000")))
            }
            var severities: Set<Severity>?
            if let list = query.get("severity"), !list.isEmpty {
                let parsed = list.split(separator: ",").map { Severity(rawValue: $0.uppercased()) }
                guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else {
                    return .failure(
                        ProblemResponse(ServiceRoutes.problem(.badRequest, "severity is a list of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")))
                }
                severities = Set(parsed.compactMap { $0 })
            }
            func nonEmpty(_ name: String) -> String? { query.get(name).flatMap { $0.isEmpty ? nil : $0 } }
            switch Paging.position(request, as: ImagePosition.self) {
            case .failure(let problem): return .failure(problem)
            case .success(let position):
                return .success(
                    ImageFilter(
                        repository: nonEmpty("repository"), registry: nonEmpty("registry"), severities: severities, q: nonEmpty("q")?.lowercased(),
                        limit: limit, after: position?.name))
            }
        }
    }

    /// One page of images with a report, in name (byte) order, as `filter` asks, from the rows
    /// kept as reports land; nil while reports stored by an earlier fathom are listed.
    func listImages(_ filter: ImageFilter, logger: Logger) async throws -> ImagesAnswer? {
        guard try await listing.complete(logger: logger) else { return nil }
        let answer = try await listImages(filter)
        // `repository=localhost:5000/fleet/base` (or `alpine`, Docker Hub's `library/alpine`),
        // as image names are written, is that registry's repository when no repository has that
        // very name: matching nothing would read as a repository with no image.
        guard answer.images.isEmpty, let given = filter.repository, let (host, repository) = Self.registryAndRepository(given),
            try await store.images(ImagesFilter(repository: given), after: nil, limit: 1).isEmpty
        else { return answer }
        var split = filter
        split.repository = repository
        // With `registry=` too: the narrower of the two, or nothing when they differ.
        switch filter.registry {
        case nil: split.registry = host
        case let wanted? where ImagesFilter.registry(host, isWithin: wanted): split.registry = host
        case let wanted? where ImagesFilter.registry(wanted, isWithin: host): split.registry = wanted
        default: return answer
        }
        return try await listImages(split)
    }

    /// A repository written as an image name is (`localhost:5000/fleet/base`, `docker.io/alpine`,
    /// `alpine`) → its registry and its repository path (`fleet/base`, `library/alpine`), as
    /// stored names are normalised; nil for a bare path (`fleet/base`), which is already one.
    static func registryAndRepository(_ name: String) -> (String, String)? {
        guard !name.contains("@"), name.split(separator: "/").last?.contains(":") == false,
            let reference = try? ImageReference(parsing: name), reference.repository != name
        else { return nil }
        return (reference.registry, reference.repository)
    }

    private func listImages(_ filter: ImageFilter) async throws -> ImagesAnswer {
        let rows = try await store.images(
            ImagesFilter(repository: filter.repository, registry: filter.registry, severities: filter.severities.map { $0.map(\.rawValue).sorted() }, query: filter.q),
            after: filter.after, limit: filter.limit + 1)
        let current = try await store.advisoryVersion()
        var answer = ImagesAnswer(
            images: rows.prefix(filter.limit).map { row in
                let reference = try? ImageReference(parsing: row.name)
                return ListedImage(
                    image: row.name, registry: reference?.registry, repository: row.repository ?? reference?.repository, tag: row.tag ?? reference?.tag,
                    manifestDigest: row.manifestDigest, os: row.os, findings: row.findings,
                    bySeverity: Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0.rawValue, row.bySeverity[$0.rawValue] ?? 0) }),
                    fixable: row.fixable, exploited: row.exploited, notChecked: row.fullyChecked
                        ? nil : row.gaps.isEmpty ? ["not every package was checked"] : row.gaps.map(FleetSummary.describe(gap:)),
                    matchedAgainst: row.matchedAgainst, upToDate: row.matchedAgainst.map { $0 == current },
                    policyLeftFindingsOut: row.missing.contains(FleetLifecycle.policyLeftFindingsOut) ? true : nil)
            })
        // One more row than the page holds: the page ends after its last image.
        if rows.count > filter.limit { answer.next = answer.images.last.map { ImagePosition(name: $0.image).cursor } }
        return answer
    }

    /// A page of findings starts after this one: its image and its place in that image's report.
    struct FindingsPosition: PagePosition {
        var image: String
        var ordinal: Int
        init(image: String, ordinal: Int) {
            self.image = image
            self.ordinal = ordinal
        }
        init?(cursor: String) {
            guard let (ordinal, image) = Self.numbered(cursor, digits: 9) else { return nil }
            self.init(image: image, ordinal: Int(ordinal))
        }
        var cursor: String { "\(ordinal):\(image)" }
    }

    /// Which images are affected: by vulnerability id (or alias), severity, and fixability (every
    /// finding of the fleet, up to `limit`, when no filter is given).
    func findings(_ request: Request, context: some RequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let id = query.get("id")
        if id?.isEmpty == true || id?.contains(",") == true {
            return Self.problem(.badRequest, "id names one vulnerability id or alias (CVE-…, GHSA-…): ask once per id")
        }
        var severities: Set<Severity>?
        // Empty is absent, as /v1/images takes it (a form's field left blank).
        if let list = query.get("severity"), !list.isEmpty {
            var wanted = Set<Severity>()
            for word in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let severity = Severity(rawValue: word.uppercased()) else {
                    return Self.problem(.badRequest, "severity is a list of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                wanted.insert(severity)
            }
            severities = wanted
        }
        var fixable: Bool?
        if let text = query.get("fixable") {
            guard let value = Bool(text) else { return Self.problem(.badRequest, "fixable is true or false") }
            fixable = value
        }
        guard let limit = Self.limit(request, default: 1000, maximum: 10_000) else { return Self.problem(.badRequest, "limit is 1 to 10000") }
        let start: FindingsPosition?
        switch Paging.position(request, as: FindingsPosition.self) {
        case .failure(let problem): return problem.response
        case .success(let position): start = position
        }
        guard try await listing.complete(logger: context.logger) else { return Self.listingPending() }
        let page = try await store.findings(
            FindingsFilter(id: id, severities: severities.map { $0.map(\.rawValue).sorted() }, fixable: fixable),
            after: start.map { ($0.image, $0.ordinal) }, limit: limit)
        let answer = FindingsAnswer(
            count: page.count, images: page.images, truncated: page.more,
            findings: page.findings.map { listed in
                AffectedImage(
                    image: listed.image, manifestDigest: listed.manifestDigest, id: listed.finding.id, aliases: listed.finding.aliases,
                    package: listed.finding.package, installedVersion: listed.finding.installedVersion, fixedVersion: listed.finding.fixedVersion,
                    severity: listed.finding.severity, status: listed.finding.status)
            },
            next: page.more ? page.findings.last.map { FindingsPosition(image: $0.image, ordinal: $0.ordinal).cursor } : nil)
        var response = try Self.encoded(answer)
        Paging.link(&response, request: request, next: answer.next)
        return response
    }

    /// Counts the jobs the service gave up on as failed images, with their last errors; a dead
    /// scan job whose image was scanned since (a later push, a retry by hand) is not a failure.
    func addDeadJobs(to summary: inout FleetSummary) async throws {
        let total = try await store.jobCounts()[.dead] ?? 0
        guard total > 0 else { return }
        let listed = try await store.jobs(state: .dead, limit: 100)
        for job in listed {
            var error = job.lastError
            // A later job of the same image that finished ends the failure: a tag rolled back to
            // the image its report is of (the usual recovery from a bad push) stayed "failed",
            // its scan writing no newer report.
            if job.kind == .scan, let repository = job.repository, let reference = job.reference,
                let latest = try await store.latestJob(repository: repository, reference: reference), latest.image == job.image, latest.id > job.id,
                latest.state == .done
            {
                continue
            }
            if job.kind == .scan, let at = try await store.reportedScanTime(name: job.image) {
                if at >= job.updatedAt { continue }
                // Counted among the scanned too, by that report: said, so a reader sees why.
                error = (error ?? "the job died without an error") + " (the report kept is of an earlier scan)"
            }
            summary.add(deadJob: job.kind == .scan ? job.image : "\(job.kind.rawValue) job \(job.id)", error: error)
        }
        // Past the listed ones, the rest count without their reasons.
        let unlisted = total - listed.count
        if unlisted > 0 { summary.images.failed += unlisted }
    }

    /// The fleet summary of `fathom registry`, over the newest report of every name, from the
    /// rows kept as reports land; nil while reports stored by an earlier fathom are listed.
    func storedFleetSummary(top: Int, logger: Logger) async throws -> FleetSummary? {
        guard try await listing.complete(logger: logger) else { return nil }
        let started = ContinuousClock.now
        var summary = FleetSummary(
            view: try await store.fleetView(top: top), source: "fathom serve", advisoryVersion: try await store.advisoryVersion(), top: top)
        try await addDeadJobs(to: &summary)
        summary.finish(elapsed: ContinuousClock.now - started)
        return summary
    }

    /// What a fleet view answers while earlier reports are listed: a 503 to ask again (a page
    /// of the dashboard titled `page`, else the API's problem).
    static func listingPending(page title: String? = nil) -> Response {
        let message = "the reports stored by an earlier fathom are being listed; ask again in a moment"
        var response = title.map { Self.page(HTMLMessage.page(title: $0, message: "The \(message)."), status: .serviceUnavailable) }
            ?? Self.problem(.serviceUnavailable, message)
        response.headers[.retryAfter] = "5"
        return response
    }

    func fleetSummary(logger: Logger) async throws -> Response {
        guard let summary = try await storedFleetSummary(top: 10, logger: logger) else { return Self.listingPending() }
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: try summary.json())))
    }

    static let matchedAgainst = HTTPField.Name("Fathom-Matched-Against")!
    static let advisoryData = HTTPField.Name("Fathom-Advisory-Data")!
    static let rescanState = HTTPField.Name("Fathom-Rescan")!
    static let lastScanFailed = HTTPField.Name("Fathom-Last-Scan-Failed")!

    /// What a report was matched against, and whether a rescan will bring it up to date: the
    /// advisory data version of its scan and the current one, and, when they differ, `pending`
    /// (the image was pushed or pulled within the rescan window) or `outside-window` (it is
    /// left as it is until it is pushed or pulled again).
    func freshness(repository: String, reference: String, name: String) async throws -> [(HTTPField.Name, String)] {
        let history = try await store.scanHistory(repository: repository, reference: reference).filter { $0.name == name }
        guard let newest = history.first, let first = history.last else { return [] }
        let current = try await store.advisoryVersion()
        var fields = [(Self.matchedAgainst, newest.advisoryVersion), (Self.advisoryData, current)]
        guard newest.advisoryVersion != current else { return fields }
        let cutoff = Date().addingTimeInterval(-configuration.rescanWindow.seconds)
        let digest = newest.manifestDigest.flatMap { try? Digest(parsing: $0) }
        let tag = reference.hasPrefix("sha256:") ? nil : reference
        // As the rescans decide: the last push or pull, else when the image was first scanned.
        var seen = first.scannedAt
        for action in [RegistryEvent.Action.push, .pull] {
            if let at = try await store.lastEvent(action, repository: repository, tag: tag, digest: digest) { seen = max(seen, at) }
        }
        fields.append((Self.rescanState, seen >= cutoff ? "pending" : "outside-window"))
        return fields
    }

    // MARK: jobs

    func jobs(_ request: Request) async throws -> Response {
        var state: Job.State?
        if let wanted = request.uri.queryParameters.get("state") {
            guard let parsed = Job.State(rawValue: wanted) else {
                return Self.problem(.badRequest, "state is one of \(Job.State.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        guard let limit = Self.limit(request, default: 100, maximum: 1000) else { return Self.problem(.badRequest, "limit is 1 to 1000") }
        let before: Int64?
        switch Paging.position(request, as: Int64.self) {
        case .failure(let problem): return problem.response
        case .success(let position): before = position
        }
        let page = try await store.jobs(state: state, limit: limit + 1, before: before)
        var response = try Self.encoded(page.prefix(limit).map(JobView.init))
        Paging.link(&response, request: request, next: page.count > limit ? page[limit - 1].id.cursor : nil)
        return response
    }

    func jobSummary() async throws -> Response {
        let counts = try await store.jobCounts()
        return try Self.encoded(Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0.rawValue, counts[$0] ?? 0) }))
    }

    // MARK: helpers

    /// A 400 naming a query parameter `request`'s endpoint does not take (`takes`), or one given
    /// more than once (each is one value; a list is comma-separated). An empty part (`a=1&&b=2`)
    /// names none.
    static func refuseQuery(_ request: Request, takes names: Set<String>) -> Response? {
        var seen = Set<String>()
        for (key, _) in request.uri.queryParameters where !key.isEmpty {
            let name = String(key)
            guard names.contains(name) else {
                let takes = names.isEmpty ? "takes no query parameter" : "takes " + names.sorted().joined(separator: ", ")
                return problem(.badRequest, "unknown query parameter '\(name)': \(request.uri.path) \(takes)")
            }
            guard seen.insert(name).inserted else {
                return problem(.badRequest, "query parameter '\(name)' is given more than once: give it once")
            }
        }
        return nil
    }

    /// The `limit` query parameter: `default` when absent, nil when it is not 1…`maximum`.
    static func limit(_ request: Request, default value: Int, maximum: Int) -> Int? {
        let values = request.uri.queryParameters.getAll("limit")
        guard !values.isEmpty else { return value }
        guard values.count == 1, let limit = Int(values[0]), (1...maximum).contains(limit) else { return nil }
        return limit
    }

    static func body(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(buffer: try await request.body.collect(upTo: limit))
        } catch {
            throw HTTPError(.contentTooLarge, message: "the request body is larger than \(limit) bytes")
        }
    }

    static func encoded(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func json(_ value: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        (try? encoded(value, status: status)) ?? Response(status: .internalServerError)
    }

    /// Every error body has one shape: `{"error": {"message": …}}` (Harbor's adapter API's too),
    /// with `registries` when a name is held by several.
    static func problem(_ status: HTTPResponse.Status, _ message: String, registries: [String]? = nil) -> Response {
        (try? encoded(ErrorBody(error: .init(message: message, registries: registries)), status: status)) ?? Response(status: .internalServerError)
    }
}

/// `{"error": {"message": …}}`.
struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var message: String
        var registries: [String]?
        /// The job that failed, when an image's answer is its dead scan.
        var job: JobView?
    }
    var error: Detail
}

struct EventsAccepted: Encodable {
    var events: Int
    var new: Int
    var jobs: [Int64]
    /// The images a delete took out of the fleet.
    var removed: [String]
}

struct ImagesRemoved: Encodable {
    var removed: [String]
}

struct RescanAccepted: Encodable {
    var job: Int64
    var queued: Bool
}

struct ScanAccepted: Encodable {
    var job: Int64
    var queued: Bool
    var image: String
}

/// A job as the API shows it.
struct JobView: Encodable {
    var id: Int64
    var kind: String
    var image: String
    var state: String
    var attempts: Int
    /// The worker holding a running job (`host/pid/n`), or the last one that held it.
    var worker: String?
    var lastError: String?
    var createdAt: Date
    var updatedAt: Date

    init(_ job: Job) {
        (id, kind, image, state, attempts, lastError) = (job.id, job.kind.rawValue, job.image, job.state.rawValue, job.attempts, job.lastError)
        worker = job.worker
        (createdAt, updatedAt) = (job.createdAt, job.updatedAt)
    }
}

/// Logs a request that fails with an error the routes did not turn into an answer (Hummingbird
/// answers it 500 and logs it only at debug level): an operator sees the path and the cause.
struct FailureLog: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(FathomError.plain(error))"])
            // The one error shape, naming the cause, rather than an empty 500.
            return ServiceRoutes.problem(.internalServerError, "the request failed: \(FathomError.plain(error))")
        }
    }
}

/// A path or query value holding a control character (a NUL, which PostgreSQL refuses in text
/// and SQLite takes as the string's end) names no image, id or filter: a 400, before any route
/// passes it to the store.
struct ControlCharacters: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let values = [request.uri.path.removingPercentEncoding ?? request.uri.path] + request.uri.queryParameters.map { String($0.value) }
        if values.contains(where: { $0.unicodeScalars.contains { $0.properties.generalCategory == .control } }) {
            return ServiceRoutes.problem(.badRequest, "the path or a query value holds a control character")
        }
        return try await next(request, context)
    }
}

/// While the store cannot be reached (a fresh connection to it failed, found by `Readiness`),
/// a request that needs it is a 503 naming the cause at once, not a wait of up to a minute for
/// the connection pool. Health, readiness, metrics, the OpenAPI document and the sign-in form
/// pass; so does everything while the store is only slow.
struct StoreGate: RouterMiddleware {
    typealias Context = BasicRequestContext
    let store: any Store
    let readiness: Readiness
    static let open: Set<String> = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/login"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !Self.open.contains(request.uri.path), let cause = readiness.unreachable(store) {
            let path = request.uri.path
            // The dashboard's pages answer a browser with a page, the API with its error shape.
            let page = !path.hasPrefix("/v1/") && !path.hasPrefix("/api/")
            var response =
                page
                ? ServiceRoutes.page(
                    HTMLMessage.page(title: "Unavailable", message: "The store cannot be reached: \(cause). This page will answer again once it can."),
                    status: .serviceUnavailable)
                : ServiceRoutes.problem(.serviceUnavailable, "the store cannot be reached: \(cause)")
            response.headers[.retryAfter] = "5"
            return response
        }
        return try await next(request, context)
    }
}

/// Bearer tokens: the webhook's for `POST /v1/events`, the API's for every other `/v1` and
/// `/api/v1` request; health, readiness, metrics and the OpenAPI document are open.
struct BearerTokens: RouterMiddleware {
    typealias Context = BasicRequestContext
    let api: String?
    let webhook: String?
    /// Webhook deliveries refused for their token: a registry whose notification token is
    /// mistyped sends every push here, and nothing is scanned, so it is counted and said.
    let webhookRefused = Counter(label: "fathom_webhook_deliveries_refused_total")
    /// When a refused delivery was last logged: once a minute at most, whatever the registry sends.
    private let lastRefusalLogged = Locked<ContinuousClock.Instant?>(nil)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let needed: String??
        if path == "/v1/events" {
            needed = .some(webhook)
        } else if path.hasPrefix("/v1/") || path.hasPrefix("/api/v1/") {
            needed = .some(api)
        } else {
            needed = .none
        }
        if case .some(let token) = needed {
            let given = Self.bearer(request.headers[.authorization])
            guard let token, let given, Self.same(given, token) else {
                // A wrong token is told from a missing one (RFC 6750's invalid_token).
                let problem = token == nil ? "this endpoint is not enabled" : given == nil ? "a bearer token is required" : "the bearer token is not valid"
                var response = ServiceRoutes.problem(.unauthorized, problem)
                response.headers[.wwwAuthenticate] = token != nil && given != nil ? #"Bearer error="invalid_token""# : "Bearer"
                if path == "/v1/events" {
                    webhookRefused.increment()
                    let now = ContinuousClock.now
                    let due = lastRefusalLogged.withLock { last in
                        guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                        last = now
                        return true
                    }
                    if due {
                        context.logger.warning(
                            "a registry webhook delivery was refused: \(problem) (does the registry's notification token match --webhook-token-file?); its events are not scanned",
                            metadata: ["counted": "fathom_webhook_deliveries_refused_total"])
                    }
                }
                return response
            }
        }
        return try await next(request, context)
    }

    /// The token of an `Authorization: Bearer TOKEN` value; the scheme in any case (RFC 7235).
    static func bearer(_ header: String?) -> String? {
        guard let parts = header?.split(separator: " ", maxSplits: 1), parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// Compares in time that does not depend on where the strings differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
