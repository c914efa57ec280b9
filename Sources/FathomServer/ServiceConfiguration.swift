public import FathomCore
public import FathomFeeds
public import FathomStore
import FathomRegistry
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How `fathom serve` and `fathom worker` run.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The bearer token every `/v1` and `/api/v1` request needs (nil: the API is closed).
    public var apiToken: String?
    /// The bearer token `POST /v1/events` needs (nil: the webhook is closed).
    public var webhookToken: String?
    /// In-process workers (0: this process only serves and enqueues).
    public var workers: Int
    /// Jobs each worker claims in one statement and runs at once (`--batch`).
    public var batch = 8
    /// `--allow-local-sources DIR`: scan requests may name OCI layouts and archives under DIR.
    public var localSources: String?
    /// Layer reads at once per worker process.
    public var layerConcurrency: Int
    /// How long a claimed job is held without a heartbeat before another worker may take it.
    public var lease: Duration
    /// Attempts before a job is dead.
    public var maxAttempts: Int
    /// The first retry's delay; each later one doubles it.
    public var retryBackoff: Duration
    /// How long, on SIGTERM, jobs in flight may take to finish.
    public var shutdownGrace: Duration
    /// The largest request body taken (webhook deliveries, scan requests).
    public var maxBodyBytes: Int
    /// How often an idle worker looks for a job.
    public var pollInterval: Duration
    /// The registries a webhook event may make this service connect to (`--registry`, hosts or
    /// shell patterns such as `*.corp.example:5000`). None: every event is refused.
    public var registries: [String] = []
    /// How often the advisory data is updated from `feeds` (nil: never, e.g. `db pull` instead).
    public var updateInterval: Duration?
    public var feeds: [Feed]
    /// How often the stored images are re-matched (besides after every advisory change).
    public var rescanInterval: Duration?
    /// Images pushed or pulled longer ago than this are left out of rescans.
    public var rescanWindow: Duration
    /// Whether a rescan asks each registry about the stored tags (a HEAD each): one that moved
    /// gets a scan job, one deleted leaves the fleet. Off: re-matched as stored.
    public var rescanChecksTags = true
    /// How long finished jobs, delivered notifications, registry events and superseded scans
    /// are kept (nil: for ever).
    public var retention: Duration? = .seconds(90 * 86400)
    /// How often the scheduler looks for changed advisory data and due work.
    public var schedulerTick: Duration
    /// Receivers of `findings.changed` notifications, and the HMAC-SHA256 key that signs them.
    public var notifyURLs: [String]
    public var notifySecret: [UInt8]?
    /// What a layer and an image may expand to (`--max-layer-bytes` and the rest).
    public var readLimits: ReadLimits = .default
    /// How long one image's scan may take (nil: no limit).
    public var imageTimeout: Duration?
    /// How long a dashboard sign-in lasts (`--session-lifetime`), checked by the server.
    public var sessionLifetime: Duration = .seconds(12 * 3600)
    /// What Harbor's registry authorizations are sealed with while their jobs wait.
    public var harborCredentialKey: HarborCredentialKey = .ephemeral()

    public init(
        host: String = "127.0.0.1", port: Int = 8080, apiToken: String? = nil, webhookToken: String? = nil, workers: Int = 1,
        layerConcurrency: Int = 4, lease: Duration = .seconds(60), maxAttempts: Int = Job.defaultMaxAttempts, retryBackoff: Duration = .seconds(5),
        shutdownGrace: Duration = .seconds(30), maxBodyBytes: Int = 1 << 20, pollInterval: Duration = .milliseconds(250),
updateInterval: Duration? = .seconds(6 * 3600), feeds: [Feed] = [],
        rescanInterval: Duration? = .seconds(24 * 3600), rescanWindow: Duration = .seconds(30 * 86400),
        schedulerTick: Duration = .seconds(2), notifyURLs: [String] = [], notifySecret: [UInt8]? = nil
    ) {
        self.updateInterval = updateInterval
        self.feeds = feeds
        self.rescanInterval = rescanInterval
        self.rescanWindow = rescanWindow
        self.schedulerTick = schedulerTick
        self.notifyURLs = notifyURLs
        self.notifySecret = notifySecret
        self.host = host
        self.port = port
        self.apiToken = apiToken
        self.webhookToken = webhookToken
        self.workers = workers
        self.layerConcurrency = layerConcurrency
        self.lease = lease
        self.maxAttempts = maxAttempts
        self.retryBackoff = retryBackoff
        self.shutdownGrace = shutdownGrace
        self.maxBodyBytes = maxBodyBytes
        self.pollInterval = pollInterval
    }

    /// The registry to scan an image a webhook event names from: the event's host when
    /// `--registry` names it (or a pattern matches it); else, when `--registry` names exactly one
    /// host, that host (the registry's own address as this service reaches it, when the event
    /// names another); else nil, and the event queues nothing. A webhook never makes this
    /// service connect to a registry the operator did not name.
    public func registry(forEvent host: String?) -> String? {
        let plain = registries.filter { !$0.contains(where: { "*?[".contains($0) }) }
        // An event's host is a host[:port], nothing more: a '/' or '@' would name another registry.
        if let host, host.isEmpty || host.contains(where: { "/@\\".contains($0) || $0.isWhitespace }) { return nil }
        if let host {
            if plain.contains(where: { $0.lowercased() == host.lowercased() }) { return host }
            if registries.contains(where: { fnmatch($0.lowercased(), host.lowercased(), FNM_PATHNAME) == 0 }) { return host }
        }
        return registries.count == 1 && plain.count == 1 ? plain[0] : nil
    }

    /// Whether a scan request may name `host`: any, when no `--registry` is given (serve warns
    /// of it at start); else only the registries it names, as for events, so an API token
    /// cannot make the service connect wherever it is told.
    /// Docker Hub's names are one (`docker.io` allows `index.docker.io`, which references name).
    public func allows(scanOf host: String) -> Bool {
        let host = CredentialStore.normalizeHost(host)
        return registries.isEmpty
            || registries.contains { CredentialStore.normalizeHost($0) == host || fnmatch($0.lowercased(), host, FNM_PATHNAME) == 0 }
    }

    /// Reads a token file (the first line, trimmed); an empty file is an error, not an open door.
    /// `what` names the file in errors (the token file, the key file).
    public static func token(file: String, what: String = "token file") throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ServiceError("cannot read the \(what) \(file)")
        }
        let token = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let token, !token.isEmpty else { throw ServiceError("the \(what) \(file) is empty") }
        return token
    }
}

public struct ServiceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

// The tokens and the notification key never print: swift-service-lifecycle logs each service,
// and with it this configuration, with `String(describing:)` at debug level.
extension ServiceConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "ServiceConfiguration(\(host):\(port), workers: \(workers), layerConcurrency: \(layerConcurrency), apiToken: \(apiToken == nil ? "none" : "<redacted>"), webhookToken: \(webhookToken == nil ? "none" : "<redacted>"), notifySecret: \(notifySecret == nil ? "none" : "<redacted>"), notifyURLs: \(notifyURLs.count), feeds: \(feeds.count))"
    }
    public var debugDescription: String { description }
}
