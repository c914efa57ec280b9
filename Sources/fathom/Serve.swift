import ArgumentParser
import FathomCore
import FathomRegistry
import FathomServer
import FathomStore
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// What `serve` and `worker` share: the store, the registries, and how jobs are worked.
struct WorkerOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Scan workers in this process. Default: the number of cores.")
    var workers: Int?

    @Option(parsing: .unconditional, help: "Jobs each worker claims in one statement and runs at once (one heartbeat renews them together). Jobs wait on the store and on layers other jobs read, so a few per core keep the cores busy.")
    var batch = 8

    @Option(help: ArgumentHelp("Let scan requests name OCI layouts (oci:PATH[:tag]) and archives (oci-archive:FILE[:tag]) under DIR, e.g. a registry mirrored there; give serve and every worker the same DIR.", valueName: "DIR"))
    var allowLocalSources: String?

    @Option(parsing: .unconditional, help: "Attempts per job before it is dead.")
    var maxAttempts = Job.defaultMaxAttempts

    @Option(help: "How long a job is held without a heartbeat before another worker may take it, e.g. 60s.")
    var lease = "60s"

    @Option(parsing: .unconditional, help: "Seconds jobs in flight may take to finish after SIGTERM.")
    var shutdownGrace = 30

    @Option(parsing: .unconditional, help: "Layer reads at once per process.")
    var layerConcurrency: Int?

    @Option(help: "Give up on one image after this long (30s, 10m): its job fails and is retried. Default: no limit.")
    var imageTimeout: String?

    @Option(help: "Only images pushed or pulled within this window are rescanned.")
    var rescanWindow = "30d"

    @Flag(help: "Rescans re-match stored images without asking their registries whether each tag moved or was deleted (a manifest HEAD per tag; a moved tag gets a scan job, a deleted one leaves the fleet).")
    var rescanOffline = false

    @Option(help: "Where to POST signed notifications: findings.changed when a scan finds vulnerabilities new (every one, on a name's first scan), resolved or refixed, scan.failed when a scan job is dead (repeatable).")
    var notifyURL: [String] = []

    @Option(help: "File holding the HMAC-SHA256 key that signs notifications (X-Fathom-Signature).")
    var notifySecretFile: String?

    @Option(help: "Ignore file applied to every stored report: `ID [pkg:NAME] [exp:YYYY-MM-DD]` per line; read again when it changes.")
    var ignoreFile: String?

    @Option(help: "VEX document (OpenVEX, CycloneDX VEX or CSAF VEX) applied to every stored report (repeatable); read again when it changes.")
    var vex: [String] = []

    @Option(help: "File holding the secret that seals Harbor's registry authorizations while their scan jobs wait (give serve and every worker the same file). Default: a key of this process's own, so only its workers can run Harbor scans.")
    var harborCredentialKeyFile: String?

    @OptionGroup var feedOptions: Database.FeedOptions
    @OptionGroup var registryOptions: RegistryOptions
    @OptionGroup var storeOption: StoreOption
    @OptionGroup var readLimits: ReadLimitOptions

    func validate() throws {
        if let workers, workers < 0 { throw ValidationError("--workers must be 0 or more") }
        if maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if shutdownGrace < 0 { throw ValidationError("--shutdown-grace must be 0 or more seconds") }
        if let layerConcurrency, layerConcurrency < 1 { throw ValidationError("--layer-concurrency must be at least 1") }
        if !(1...1000).contains(batch) { throw ValidationError("--batch must be 1 to 1000") }
        if let imageTimeout, try Self.interval(imageTimeout, option: "--image-timeout") == nil {
            throw ValidationError("--image-timeout takes a duration such as 30s or 10m")
        }
        guard try Self.interval(lease, option: "--lease", offAllowed: false) != nil else { throw ValidationError("--lease must be a duration such as 60s") }
        guard try Self.interval(rescanWindow, option: "--rescan-window") != nil else {
            throw ValidationError("--rescan-window must be a duration such as 30d")
        }
        for url in notifyURL where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--notify-url takes an http:// or https:// URL, not '\(url)'")
        }
        // Credentials in the URL would be kept in the store with each notification, and sent
        // as nothing: receivers check X-Fathom-Signature instead.
        for url in notifyURL where URLComponents(string: url)?.user != nil || URLComponents(string: url)?.password != nil {
            throw ValidationError(
                "--notify-url must not carry a user or password (it is stored with each notification): receivers check X-Fathom-Signature (--notify-secret-file)")
        }
    }

    /// `30s`, `90m`, `6h`, `30d`, `2w`; nil for `off` or `0` (`offAllowed`: the message offers it).
    /// `examples`: durations the option would take, for its error.
    static func interval(_ text: String, option: String, offAllowed: Bool = true, examples: String = "30s, 90m, 6h, 30d or 2w") throws -> Duration? {
        if text == "off" || text == "0" { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let unit = text.last, let scale = units[unit], let amount = Double(text.dropLast()) else {
            throw ValidationError("\(option) takes a duration such as \(examples)\(offAllowed ? ", or off" : ""); not '\(text)'")
        }
        guard amount > 0 else {
            throw ValidationError("\(option) must be longer than 0, not '\(text)'\(offAllowed ? " (off: no limit)" : "")")
        }
        // `infd` or `1e15d` is a slip, not a wish (and past what a duration holds).
        guard amount * scale <= Self.longestInterval else {
            throw ValidationError("\(option) is at most 100 years; not '\(text)'\(offAllowed ? " (off: no limit)" : "")")
        }
        return .milliseconds(Int64(amount * scale * 1000))
    }

    /// 100 years, in seconds.
    static let longestInterval: Double = 100 * 365 * 86400

    /// A retention (nil: off). Shorter than a day is refused: it is more likely a slip ("90m"
    /// for 90 days) than a wish, and it could delete a finished job before Harbor or a client
    /// had asked for its report.
    static func retention(_ text: String, option: String, offAllowed: Bool = true) throws -> Duration? {
        guard let retention = try interval(text, option: option, offAllowed: offAllowed, examples: "90d or 2w") else { return nil }
        guard retention >= .seconds(86400) else {
            throw ValidationError(
                "\(option) is at least a day (\(text) could delete jobs before their reports are fetched); e.g. 90d\(offAllowed ? ", or off" : "")")
        }
        return retention
    }

    /// The configuration these options give (token and secret files read; a missing one is an error).
    func configuration(defaultWorkers: Int) throws -> ServiceConfiguration {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var configuration = ServiceConfiguration(
            workers: workers ?? defaultWorkers, layerConcurrency: layerConcurrency ?? max(2, cores * 2),
            lease: try Self.interval(lease, option: "--lease") ?? .seconds(60), maxAttempts: maxAttempts,
            shutdownGrace: .seconds(shutdownGrace),
            rescanWindow: try Self.interval(rescanWindow, option: "--rescan-window") ?? .seconds(30 * 86400), notifyURLs: notifyURL)
        configuration.batch = batch
        configuration.rescanChecksTags = !rescanOffline
        var isDirectory: ObjCBool = false
        if let allowLocalSources, !FileManager.default.fileExists(atPath: allowLocalSources, isDirectory: &isDirectory) || !isDirectory.boolValue {
            throw FathomError(.invalidInput, "--allow-local-sources names no directory", path: allowLocalSources)
        }
        configuration.localSources = allowLocalSources
        configuration.feeds = try feedOptions.resolve()
        configuration.readLimits = try readLimits.limits()
        configuration.imageTimeout = try imageTimeout.flatMap { try Self.interval($0, option: "--image-timeout") }
        configuration.notifySecret = try notifySecretFile.map { Array(try ServiceConfiguration.token(file: $0, what: "notification secret file (--notify-secret-file)").utf8) }
        configuration.harborCredentialKey = try harborCredentialKeyFile.map(HarborCredentialKey.file) ?? .ephemeral()
        if !configuration.notifyURLs.isEmpty && configuration.notifySecret == nil {
            printWarning("no --notify-secret-file: notifications are sent unsigned")
        }
        if configuration.notifyURLs.isEmpty && configuration.notifySecret != nil {
            printWarning("--notify-secret-file without --notify-url: nothing is notified")
        }
        return configuration
    }

    /// `--ignore-file` and `--vex`, read now (a broken file stops the start, named) and again when they change.
    func policyFiles(logger: Logger) throws -> PolicyFiles {
        do {
            return try PolicyFiles(ignoreFile: ignoreFile, vexFiles: vex, logger: logger)
        } catch {
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
    }
}

/// `fathom serve`: the scan service. The HTTP API and registry webhook, the scheduler, and
/// (with `--workers`) workers that take the store's jobs; SIGTERM stops taking jobs and lets
/// those in flight finish.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the scan service: HTTP API, registry webhook, scheduler and a pool of scan workers.",
        discussion: """
            Point the registry's notifications at http://HOST:PORT/v1/events: every pushed manifest is scanned, \
            and pushes and pulls are recorded. Reports: GET /v1/images/{repository}/{tag or digest}. \
            The API is described at /openapi.json. With --workers 0 it only serves and queues: fathom worker \
            processes on the same store do the scanning.
            """)

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:8080"

    @Option(help: "File holding the bearer token every /v1 and /api/v1 request needs (without it they answer 401).")
    var apiTokenFile: String?

    @Option(help: "File holding the bearer token the registry's webhook sends to POST /v1/events.")
    var webhookTokenFile: String?

    @Option(help: ArgumentHelp(
        "A registry webhook events may make fathom scan from (repeatable; a host, or a shell pattern such as '*.corp.example:5000'). An event for another host is refused; with one plain host, events naming another host are scanned from it (the registry's address as fathom reaches it). Scan requests (POST /v1/scans) are held to the same hosts. None: every event is refused.",
        valueName: "host[:port]"))
    var registry: [String] = []

    @Option(help: "How often to update the advisory data from the feeds (`db update`), e.g. 6h; off (or 0) for never (use db pull).")
    var dbUpdateInterval = "6h"

    @Option(help: "How often to re-match the stored images (they are also re-matched after every advisory change); off (or 0) for never.")
    var rescanInterval = "24h"

    @Option(help: "How long a dashboard sign-in lasts (its cookie expires on the server after this), e.g. 12h.")
    var sessionLifetime = "12h"

    @Option(help: "Delete finished jobs, delivered notifications, registry events, scans other than a name's two newest (all of a deleted name's) and the images and inventories no scan names after this long, at start and hourly (90d, 2w; off or 0: keep all). Events are kept for the rescan window at least.")
    var retention = "90d"

    @OptionGroup var options: WorkerOptions

    func validate() throws {
        _ = try Self.address(listen)
        _ = try WorkerOptions.interval(dbUpdateInterval, option: "--db-update-interval")
        _ = try WorkerOptions.interval(rescanInterval, option: "--rescan-interval")
        _ = try WorkerOptions.retention(retention, option: "--retention")
        guard try WorkerOptions.interval(sessionLifetime, option: "--session-lifetime", offAllowed: false) != nil else {
            throw ValidationError("--session-lifetime must be a duration such as 12h")
        }
    }

    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, e.g. 127.0.0.1:8080")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    func run() async throws {
        bootstrapLogging(service: true)
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let (host, port) = try Self.address(listen)
        var configuration: ServiceConfiguration
        do {
            configuration = try options.configuration(defaultWorkers: ProcessInfo.processInfo.activeProcessorCount)
            configuration.host = host
            configuration.port = port
            configuration.registries = registry
            configuration.updateInterval = try WorkerOptions.interval(dbUpdateInterval, option: "--db-update-interval")
            configuration.rescanInterval = try WorkerOptions.interval(rescanInterval, option: "--rescan-interval")
            configuration.retention = try WorkerOptions.retention(retention, option: "--retention")
            configuration.sessionLifetime = try WorkerOptions.interval(sessionLifetime, option: "--session-lifetime", offAllowed: false) ?? .seconds(12 * 3600)
            configuration.apiToken = try apiTokenFile.map { try ServiceConfiguration.token(file: $0, what: "API token file (--api-token-file)") }
            configuration.webhookToken = try webhookTokenFile.map { try ServiceConfiguration.token(file: $0, what: "webhook token file (--webhook-token-file)") }
        } catch {
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
        if configuration.apiToken == nil {
            printWarning("no --api-token-file: every /v1 request is refused (401)")
        }
        if configuration.webhookToken == nil {
            printWarning("no --webhook-token-file: every registry event is refused (401)")
        }
        if configuration.workers == 0 && options.harborCredentialKeyFile == nil {
            printWarning("--workers 0 and no --harbor-credential-key-file: Harbor scans queued here can be run by no worker (give serve and every worker the same key file)")
        }
        if configuration.registries.isEmpty {
            printWarning("no --registry: registry events queue no scan, and scan requests may name any registry (name the registries fathom may scan from)")
        }
        let settings = configuration
        let logger = Logger(label: "fathom.serve")
        // Read before the store and the client are opened: a bad file stops the start with nothing to close.
        let policy = try options.policyFiles(logger: logger)
        let store = try await options.storeOption.open(answersQueries: true)
        let client = try options.registryOptions.makeClient(for: registry.count == 1 ? registry[0] : nil)
        let service = FathomService.serve(
            store: store, client: client, configuration: settings, policy: policy, metrics: metrics, logger: logger
        ) { address in
            FileHandle.standardError.write(
                Data("fathom: serving on http://\(address) with \(settings.workers) worker\(settings.workers == 1 ? "" : "s"), store \(store.location)\n".utf8))
        }
        try await Self.run(service)
    }

    /// Runs the service until SIGTERM or SIGINT; a failure is one error line and exit 1.
    static func run(_ service: FathomService.Built) async throws {
        do {
            try await service.run()
        } catch {
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
    }
}

/// `fathom worker`: scan workers only, taking the jobs `fathom serve` queues in the same store.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scan workers that take the jobs of a shared store (the service queues them).",
        discussion: "Any number of worker processes can share one store; a job whose worker dies returns to the queue when its lease runs out.")

    @Option(help: "Serve /healthz, /readyz and /metrics on HOST:PORT (for probes and Prometheus).")
    var listen: String?

    @OptionGroup var options: WorkerOptions

    func validate() throws {
        if options.workers == 0 { throw ValidationError("a worker process needs --workers 1 or more") }
        if let listen { _ = try Serve.address(listen) }
    }

    func run() async throws {
        bootstrapLogging(service: true)
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let configuration: ServiceConfiguration
        do {
            configuration = try options.configuration(defaultWorkers: ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
        let logger = Logger(label: "fathom.worker")
        // Read before the store and the client are opened: a bad file stops the start with nothing to close.
        let policy = try options.policyFiles(logger: logger)
        let probes = try listen.map(Serve.address)
        let store = try await options.storeOption.open()
        let client = try options.registryOptions.makeClient(for: nil)
        FileHandle.standardError.write(Data("fathom: \(configuration.workers) workers on store \(store.location)\n".utf8))
        let service = FathomService.worker(
            store: store, client: client, configuration: configuration, policy: policy, metrics: metrics,
            probes: probes, logger: logger)
        try await Serve.run(service)
    }
}
