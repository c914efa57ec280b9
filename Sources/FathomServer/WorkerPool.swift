import FathomCore
public import FathomStore
import Foundation
public import Logging
public import ServiceLifecycle

/// Workers that take jobs from the store's queue: each claims a job under a lease, renews it
/// while the scan runs, and marks it done, or failed (queued again with backoff, or dead after
/// the last attempt). On graceful shutdown no new job is taken; jobs in flight get
/// `shutdownGrace` to finish, then are given back (their lease is left to run out).
public struct WorkerPool: Service {
    let store: any Store
    let runner: ScanRunner
    let configuration: ServiceConfiguration
    let name: String
    let logger: Logger

    public init(store: any Store, runner: ScanRunner, configuration: ServiceConfiguration, name: String, logger: Logger) {
        self.store = store
        self.runner = runner
        self.configuration = configuration
        self.name = name
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<configuration.workers {
                group.addTask { await self.work(as: "\(name)/\(index)") }
            }
        }
    }

    /// One worker's loop, until graceful shutdown.
    func work(as worker: String) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                guard let job = try await store.claim(worker: worker, lease: configuration.lease, now: Date()) else {
                    try? await Task.sleep(for: configuration.pollInterval)
                    continue
                }
                await process(job, as: worker)
            } catch {
                logger.error("cannot take a job", metadata: ["worker": "\(worker)", "error": "\(error)"])
                try? await Task.sleep(for: configuration.pollInterval * 4)
            }
        }
    }

    func process(_ job: Job, as worker: String) async {
        let lease = configuration.lease
        // The heartbeat renews the lease at a third of its length while the scan runs.
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: lease / 3)
                if Task.isCancelled { break }
                if (try? await store.renew(job.id, worker: worker, lease: lease, now: Date())) == false {
                    logger.warning("lost the lease of a job", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
                }
            }
        }
        defer { heartbeat.cancel() }
        do {
            // A job in flight is not cut short by a graceful shutdown, only by its grace period.
            try await withGracefulShutdownHandler {
                try await runner.run(job)
            } onGracefulShutdown: {}
            try await store.complete(job.id, worker: worker, now: Date())
            logger.info("scanned", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
        } catch {
            let message = "\(FathomError.wrapping(error, image: job.image))"
            let delay = configuration.retryBackoff * (1 << min(job.attempts - 1, 10))
            logger.warning("job failed", metadata: ["job": "\(job.id)", "image": "\(job.image)", "error": "\(message)"])
            // A Harbor scan's credentials are fixed in its job: refused once, refused every time.
            let permanent = job.kind == .harbor && (error as? FathomError)?.code == .unauthorized
            try? await store.fail(
                job.id, worker: worker, error: message, retryAfter: delay, maxAttempts: permanent ? job.attempts : configuration.maxAttempts,
                now: Date())
        }
    }
}

extension WorkerPool: CustomStringConvertible {
    public var description: String { "WorkerPool" }
}
