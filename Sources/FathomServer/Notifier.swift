import AsyncHTTPClient
import Crypto
import FathomCore
import FathomRegistry
public import FathomStore
import Foundation
public import Logging
import Metrics
import NIOCore
import NIOHTTP1
public import ServiceLifecycle

/// Delivers the outbox's notifications: a JSON POST signed with HMAC-SHA256 over the body
/// (`X-Fathom-Signature: sha256=<hex>`), with a delivery id that stays the same across retries
/// (`X-Fathom-Delivery`). A receiver that does not answer 2xx is tried again with doubling
/// backoff (up to an hour apart); nothing is dropped: it stays in the outbox until accepted.
/// Only the receivers this process was given (`urls`) are sent to, each batch's at once: one
/// receiver that is down holds no other's back.
public struct Notifier: Service {
    let store: any Store
    let urls: [String]
    let secret: [UInt8]?
    let logger: Logger
    let tick: Duration
    let firstBackoff: Duration
    let deliveries = Counter(label: "fathom_notifications_total", dimensions: [("result", "delivered")])
    let failures = Counter(label: "fathom_notifications_total", dimensions: [("result", "failed")])

    public init(
        store: any Store, urls: [String], secret: [UInt8]?, logger: Logger, tick: Duration = .milliseconds(500), firstBackoff: Duration = .seconds(1)
    ) {
        self.store = store
        self.urls = urls
        self.secret = secret
        self.logger = logger
        self.tick = tick
        self.firstBackoff = firstBackoff
    }

    public func run() async throws {
        // Its own client: connecting is given 5 s (TLS included), not the shared client's ten.
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(10))))
        // One lane per receiver: its due notifications one after another, oldest first (a
        // failure ends the lane until the next tick; the failed one comes again at its retry),
        // the receivers' lanes at once, so a receiver that is down or hangs holds no other back.
        // Lanes start at each tick, for the receivers whose lane has ended; a lane's result is
        // its receiver, the tick's nil.
        await withTaskGroup(of: String?.self) { group in
            var busy: Set<String> = []
            var tickCame = true
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if tickCame {
                    for url in urls where !busy.contains(url) {
                        busy.insert(url)
                        group.addTask {
                            await lane(url, client: client)
                            return url
                        }
                    }
                    group.addTask { [tick] in
                        try? await Task.sleep(for: tick)
                        return nil
                    }
                    tickCame = false
                }
                switch await group.next() {
                case .some(.some(let url)): busy.remove(url)
                case .some(.none): tickCame = true
                case .none: tickCame = true
                }
            }
            // Stopping: what is being sent is given up, and sent again once its hold runs out.
            group.cancelAll()
        }
        try? await client.shutdown()
    }

    /// Sends `url`'s due notifications one at a time, oldest first, until none is due or one
    /// is not accepted (each is taken as it is sent: none waits out a hold behind a failure).
    func lane(_ url: String, client: HTTPClient) async {
        while !Task.isCancelled {
            let due: [OutgoingNotification]
            do {
                due = try await store.dueNotifications(limit: 1, lease: .seconds(60), urls: [url], now: Date())
            } catch {
                if !(Task.isCancelled || error is CancellationError) {
                    logger.error("notifications", metadata: ["url": "\(Self.redacted(url))", "error": "\(FathomError.plain(error))"])
                }
                return
            }
            guard let next = due.first, await deliver(next, client: client) else { return }
        }
    }

    /// A receiver's URL as logs show it: its scheme, host and port only (a path or query may
    /// hold a token, as chat webhooks' do).
    static func redacted(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "(a receiver)" }
        return "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")/…"
    }

    /// `sha256=<hex>` of the body under the secret.
    public static func signature(_ body: [UInt8], secret: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    /// The body's `event` (`findings.changed`, `scan.failed`), for the header that lets a
    /// receiver route it before it parses the body.
    static func event(of body: [UInt8]) -> String {
        struct Event: Decodable { var event: String }
        return (try? JSONDecoder().decode(Event.self, from: Data(body)))?.event ?? ScanRunner.findingsChanged
    }

    /// Sends one notification and records the outcome; true when the receiver accepted it.
    @discardableResult
    func deliver(_ notification: OutgoingNotification, client: HTTPClient) async -> Bool {
        var request = HTTPClientRequest(url: notification.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "fathom")
        request.headers.add(name: "X-Fathom-Event", value: Self.event(of: notification.body))
        request.headers.add(name: "X-Fathom-Delivery", value: notification.deliveryID)
        if let secret { request.headers.add(name: "X-Fathom-Signature", value: Self.signature(notification.body, secret: secret)) }
        request.body = .bytes(ByteBuffer(bytes: notification.body))
        var failure: String?
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 << 10)
            if !(200..<300).contains(response.status.code) { failure = "the receiver answered \(response.status.code)" }
        } catch {
            // Stopping: neither a failure to count nor a state to store (its hold runs out).
            if Task.isCancelled { return false }
            // In a person's words ("connection refused"), not NIO's nested error values.
            failure = TransportFailure(error, forRegistry: false).description
        }
        do {
            if let failure {
                failures.increment()
                let delay = min(3600, firstBackoff.seconds * Double(1 << min(notification.attempts, 12)))
                logger.warning(
                    "notification not delivered",
                    metadata: ["delivery": "\(notification.deliveryID)", "url": "\(Self.redacted(notification.url))", "error": "\(failure)"])
                try await store.markFailed(notification.deliveryID, error: failure, retryAt: Date().addingTimeInterval(delay))
            } else {
                deliveries.increment()
                try await store.markDelivered(notification.deliveryID, now: Date())
            }
        } catch {
            logger.error("notification state not stored", metadata: ["delivery": "\(notification.deliveryID)", "error": "\(FathomError.plain(error))"])
        }
        return failure == nil
    }
}

// Never printed with its signing key (swift-service-lifecycle logs each service).
extension Notifier: CustomStringConvertible {
    public var description: String { "Notifier" }
}
