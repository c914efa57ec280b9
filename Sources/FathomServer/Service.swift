import FathomCore
public import FathomRegistry
public import FathomStore
import Foundation
public import Hummingbird
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle
import UnixSignals

/// The service as a `ServiceGroup`, built here (as Hummingbird's own examples build theirs) so
/// that the CLI, tests and any other host run the same thing: `serve` (API, webhook,
/// scheduler, and workers when configured, Harbor's scans among their jobs) and `worker`
/// (workers only, with probes and metrics when asked).
public enum FathomService {
    /// What runs, the group itself, and what it needs closed after it returns.
    public struct Built: Sendable {
        public let group: ServiceGroup
        public let store: any Store
        public let client: RegistryClient
        /// The HTTP address it listens on (`HOST:PORT`), if any: a bind failure names it.
        var listening: String?

        /// Runs the group until SIGTERM or SIGINT (jobs in flight get the grace period), then
        /// closes the registry client and the store.
        public func run() async throws {
            do {
                try await group.run()
            } catch {
                await close()
                throw FathomService.named(error, listening: listening)
            }
            await close()
        }

        /// Closes the registry client and the store, each given at most `limit`: a scan handed
        /// back at shutdown may leave a connection being made (a TLS handshake with a registry
        /// that does not answer waits out its connect timeout), which a stopping process need not.
        func close(limit: Duration = .seconds(1)) async {
            for closing in [{ try await client.shutdown() }, { try await store.close() }] as [@Sendable () async throws -> Void] {
                let task = Task { try? await closing() }
                _ = await WorkerPool.outcome(of: Task { await task.value }, within: limit)
            }
        }
    }

    /// A socket error of binding the listening address as one line naming the address and the
    /// cause ("address already in use"), instead of NIO's `bind(descriptor:ptr:bytes:)` words.
    static func named(_ error: any Error, listening: String?) -> any Error {
        guard let listening, let io = error as? IOError, io.description.contains("bind") else { return error }
        let cause = String(cString: strerror(io.errnoCode)).lowercased()
        let advice =
            io.errnoCode == EADDRINUSE ? " (another process listens there: stop it, or choose another --listen)"
            : io.errnoCode == EACCES ? " (ports below 1024 need privileges)" : io.errnoCode == EADDRNOTAVAIL ? " (no interface has that address)" : ""
        return FathomError(.io, "cannot listen on \(listening): \(cause)\(advice)")
    }

    /// `fathom serve`: the HTTP API on `configuration.host:port`, the registry webhook, the
    /// scheduler, the notifier, and `configuration.workers` workers (none: another process's take the jobs).
    public static func serve(
        store: any Store, client: RegistryClient, configuration: ServiceConfiguration, policy: PolicyFiles, metrics: PrometheusCollectorRegistry,
        logger: Logger, onServerRunning: (@Sendable (String) -> Void)? = nil
    ) -> Built {
        let runner = configuration.workers > 0
            ? ScanRunner(store: store, client: client, configuration: configuration, policy: policy, logger: logger) : nil
        let routes = ServiceRoutes(store: store, configuration: configuration, metricsRegistry: metrics, runner: runner)
        // Reports an earlier fathom stored get their findings listed at once, not at the first ask.
        routes.listing.start(logger: logger)
        let (host, port) = (configuration.host, configuration.port)
        let app = Application(
            router: routes.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "fathom"),
            onServerRunning: { channel in
                onServerRunning?(channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)")
            },
            logger: logger)
        let services: [any Service] =
            [app, Scheduler(store: store, configuration: configuration, logger: logger)]
            + background(store: store, runner: runner, configuration: configuration, logger: logger)
        return Built(
            group: group(services, configuration: configuration, logger: logger), store: store, client: client,
            listening: "\(configuration.host):\(configuration.port)")
    }

    /// `fathom worker`: `configuration.workers` workers on the shared store, and the notifier;
    /// with `probes` (HOST, PORT), `/healthz`, `/readyz` and `/metrics` there.
    public static func worker(
        store: any Store, client: RegistryClient, configuration: ServiceConfiguration, policy: PolicyFiles, metrics: PrometheusCollectorRegistry,
        probes: (host: String, port: Int)?, logger: Logger
    ) -> Built {
        let runner = ScanRunner(store: store, client: client, configuration: configuration, policy: policy, logger: logger)
        var services = background(store: store, runner: runner, configuration: configuration, logger: logger)
        if let probes {
            let routes = ServiceRoutes(store: store, configuration: configuration, metricsRegistry: metrics, runner: nil)
            services.append(
                Application(
                    router: routes.healthRouter(), configuration: .init(address: .hostname(probes.host, port: probes.port), serverName: "fathom"),
                    logger: logger))
        }
        return Built(
            group: group(services, configuration: configuration, logger: logger), store: store, client: client,
            listening: probes.map { "\($0.host):\($0.port)" })
    }

    /// The workers (when there is a runner) and the notifier (when there are receivers).
    static func background(store: any Store, runner: ScanRunner?, configuration: ServiceConfiguration, logger: Logger) -> [any Service] {
        var services: [any Service] = []
        if !configuration.notifyURLs.isEmpty {
            services.append(Notifier(store: store, urls: configuration.notifyURLs, secret: configuration.notifySecret, logger: logger))
        }
        if let runner {
            let name = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
            services.append(WorkerPool(store: store, runner: runner, configuration: configuration, name: name, logger: logger))
        }
        return services
    }

    static func group(_ services: [any Service], configuration: ServiceConfiguration, logger: Logger) -> ServiceGroup {
        var group = ServiceGroupConfiguration(services: services, logger: logger)
        group.gracefulShutdownSignals = [.sigterm, .sigint]
        group.maximumGracefulShutdownDuration = configuration.shutdownGrace
        return ServiceGroup(configuration: group)
    }
}
