import FathomCore
import FathomRegistry
public import FathomStore
import Foundation
public import Logging
public import ServiceLifecycle

/// Workers that take jobs from the store's queue: each claims a job under a lease, renews it
/// while the scan runs, and marks it done, or failed (queued again with backoff, or dead after
/// the last attempt). On graceful shutdown no new job is taken; jobs in flight get
/// `shutdownGrace` to finish, then are handed back to the queue at once, their attempt returned.
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

    /// What ends a worker's wait while it has jobs in flight: a job ended (with the job when it
    /// succeeded, its end for the loop to record), or the store says jobs may have come.
    enum Event { case jobEnded(Job?), jobsMayHaveCome }

    /// One worker's loop, until graceful shutdown: up to `batch` jobs run at once, and whenever
    /// one ends, or the store says jobs came while places are free, the worker claims again for
    /// the free places (one statement for them all, which also records the ends of the jobs that
    /// succeeded since), so a slow job holds its own place only. One heartbeat renews the leases
    /// of every running job in one statement, at a third of the lease's length; a job that
    /// succeeded is renewed until its end is recorded.
    func work(as worker: String) async {
        let running = Locked<[Int64: JobLease]>([:])
        let heartbeat = Task { await renew(running, as: worker) }
        defer { heartbeat.cancel() }
        await withTaskGroup(of: Event.self) { group in
            // Idle, a worker waits for the store's word that a job came (PostgreSQL's NOTIFY, or
            // this process's own enqueue on SQLite), polling more slowly the longer it has been
            // idle, up to a second: the poll is only for what no one announces (retries coming
            // due, leases running out, other processes on SQLite).
            var idle = configuration.pollInterval
            let slowest = max(configuration.pollInterval, .seconds(1))
            var inFlight = 0
            var listening = false
            /// The last failure to claim that was logged, and when.
            var claimFailure: (said: String?, at: ContinuousClock.Instant) = (nil, .now)
            /// Jobs that succeeded, whose ends the next claim records.
            var succeeded: [Job] = []
            var asked = Date()
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let free = configuration.batch - inFlight
                var claimed: [Job] = []
                let signal = store.jobSignal()
                if free > 0 {
                    do {
                        // A job naming a local image waits for a worker that reads local sources.
                        // A claim still waiting for the store a second after SIGTERM is given up
                        // (a store that is down held the process past Kubernetes' grace period).
                        let ending = succeeded.map(\.id)
                        // The leases run from before the claim was asked, as the store may count them.
                        asked = Date()
                        let claim = Task { [store, configuration] in
                            try await store.complete(
                                ending, thenClaim: free, worker: worker, lease: configuration.lease,
                                localSources: configuration.localSources != nil, maxAttempts: configuration.maxAttempts, now: Date())
                        }
                        claimed = try await withGracefulShutdownHandler {
                            try await claim.value
                        } onGracefulShutdown: {
                            Task {
                                try? await Task.sleep(for: .seconds(1))
                                claim.cancel()
                            }
                        }
                        ended(succeeded, running)
                        succeeded = []
                        if claimFailure.said != nil {
                            logger.info("taking jobs again: the store answers", metadata: ["worker": "\(worker)"])
                            claimFailure.said = nil
                        }
                    } catch {
                        // Stopping while asking for a job is no failure to report.
                        if Task.isCancelled || error is CancellationError || Task.isShuttingDownGracefully { break }
                        // The pool's own error names no cause (a tripped circuit breaker): a
                        // fresh connection says why the store cannot be reached. Said once per
                        // cause, then again each minute while it lasts.
                        let cause = await store.unreachable(within: .seconds(1)).map { "the store cannot be reached: \($0)" }
                            ?? FathomError.plain(error)
                        if cause != claimFailure.said || claimFailure.at.duration(to: .now) >= .seconds(60) {
                            logger.error("cannot take a job", metadata: ["worker": "\(worker)", "error": "\(cause)"])
                            claimFailure = (cause, .now)
                        }
                        // The ends apart from the claim, each on its own: one that cannot be
                        // recorded is left to its lease and never keeps the worker from claiming.
                        for job in succeeded {
                            do {
                                try await store.complete(job.id, worker: worker, now: Date())
                                ended([job], running)
                            } catch {
                                running.withLock { _ = $0.removeValue(forKey: job.id) }
                                logger.warning(
                                    "cannot record the end of a finished job: its lease will run out and it runs again (a scan finds its report stored and stops)",
                                    metadata: ["job": "\(job.id)", "error": "\(FathomError.plain(error))"])
                            }
                        }
                        succeeded = []
                        if inFlight == 0 { try? await Task.sleep(for: configuration.pollInterval * 4) }
                    }
                }
                for job in claimed {
                    let lease = JobLease(job: job, askedAt: asked, length: configuration.lease) { [store, configuration] now in
                        try await JobLease.standing(of: job, worker: worker, lease: configuration.lease, in: store, now: now)
                    }
                    running.withLock { $0[job.id] = lease }
                    inFlight += 1
                    group.addTask {
                        let succeeded = await self.process(job, lease: lease, running: running, as: worker)
                        if !succeeded { Self.forget(lease, in: running) }
                        return .jobEnded(succeeded ? job : nil)
                    }
                }
                if !claimed.isEmpty {
                    idle = configuration.pollInterval
                    continue
                }
                if inFlight > 0 {
                    // Full, or nothing more to take: claim again when a job ends, or (with places
                    // free) when the store says jobs came, so one long job does not keep the
                    // other places empty while work waits.
                    if inFlight < configuration.batch && !listening {
                        listening = true
                        group.addTask {
                            await cancelWhenGracefulShutdown { await store.waitForJobs(since: signal, upTo: slowest) }
                            return .jobsMayHaveCome
                        }
                    }
                    switch await group.next() {
                    case .jobEnded(let job)?:
                        inFlight -= 1
                        if let job { succeeded.append(job) }
                    case .jobsMayHaveCome?: listening = false
                    case nil: break
                    }
                    continue
                }
                // A graceful shutdown ends the wait at once.
                let wait = idle
                await cancelWhenGracefulShutdown { await store.waitForJobs(since: signal, upTo: wait) }
                idle = min(idle * 2, slowest)
            }
            // Stopping: the jobs in flight finish within the grace period, or go back (process);
            // each success is recorded as it comes.
            // Once the store did not answer within its five seconds, the rest are left to their
            // leases at once: each waiting as long held the exit for as many times five.
            var recording = await record(succeeded, running, as: worker)
            while let event = await group.next() {
                guard case .jobEnded(let job?) = event else { continue }
                if recording {
                    recording = await record([job], running, as: worker)
                } else {
                    logger.warning("cannot record the end of a finished job: the store did not answer for the last one; its lease will run out", metadata: ["job": "\(job.id)"])
                }
            }
        }
    }

    /// Stops renewing `lease` (its attempt failed or went back), unless a later attempt of the
    /// same job has its place.
    static func forget(_ lease: JobLease, in running: Locked<[Int64: JobLease]>) {
        running.withLock { if $0[lease.job.id] === lease { $0.removeValue(forKey: lease.job.id) } }
    }

    /// The jobs whose ends were recorded: their leases are no longer renewed.
    func ended(_ jobs: [Job], _ running: Locked<[Int64: JobLease]>) {
        for job in jobs {
            // Only this attempt's (a later one of the same job, claimed again by this worker, stays).
            running.withLock { if $0[job.id]?.job.attempts == job.attempts { $0.removeValue(forKey: job.id) } }
            // Said by kind: a rescan or an update names no image.
            logger.info(
                "job done", metadata: job.image.isEmpty ? ["job": "\(job.id)", "kind": "\(job.kind.rawValue)"]
                    : ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "image": "\(job.image)"])
        }
    }

    /// Records the ends of jobs that succeeded, claiming nothing (at shutdown). A store that
    /// does not answer gets five seconds, as a hand-back does: the process then exits, and the
    /// jobs' leases return them (a scan finds its report stored and stops). False when the store
    /// did not answer in time (an error it answered is no reason to stop asking).
    @discardableResult
    func record(_ jobs: [Job], _ running: Locked<[Int64: JobLease]>, as worker: String) async -> Bool {
        guard !jobs.isEmpty else { return true }
        let (answered, cause): (Bool, String)
        switch await Self.atExit({ [store, configuration] in
            _ = try await store.complete(
                jobs.map(\.id), thenClaim: 0, worker: worker, lease: configuration.lease, localSources: configuration.localSources != nil,
                maxAttempts: configuration.maxAttempts, now: Date())
        }) {
        case .success?:
            ended(jobs, running)
            return true
        case .failure(let error)?: (answered, cause) = (true, FathomError.plain(error))
        case nil: (answered, cause) = (false, "the store did not answer within 5 seconds")
        }
        logger.warning(
            "cannot record the end of finished jobs: their leases will run out and they run again (a scan finds its report stored and stops)",
            metadata: ["jobs": "\(jobs.map(\.id))", "error": "\(cause)"])
        return answered
    }

    /// Renews the leases of the jobs in `running`, at a third of the lease's length, until
    /// cancelled. A job the store no longer gives this worker (its lease ran out while the worker
    /// was frozen or cut off, and another took it or it ended) is stopped.
    func renew(_ running: Locked<[Int64: JobLease]>, as worker: String) async {
        let lease = configuration.lease
        while !Task.isCancelled {
            try? await Task.sleep(for: lease / 3)
            if Task.isCancelled { break }
            // Its own leases first: a late renewal is not taken for a dead worker's.
            let held = running.withLock { Array($0.values) }
            if !held.isEmpty {
                let asked = Date()
                do {
                    let renewed = try await store.renew(held.map(\.job.id), worker: worker, lease: lease, now: asked)
                    for job in held {
                        if renewed.contains(job.job.id) {
                            job.renewed(askedAt: asked)
                            continue
                        }
                        // Not renewed: what became of it says whether the scan goes on.
                        switch try await JobLease.standing(of: job.job, renewed: false, worker: worker, in: store) {
                        case .free:
                            logger.warning(
                                "the lease of a job ran out and it is queued again: its scan goes on (the attempt that takes it finds the report)",
                                metadata: ["job": "\(job.job.id)", "image": "\(job.job.image)"])
                        case .lost, .held:
                            logger.warning(
                                "lost the lease of a job (it ended, or another attempt holds it): its scan stops and its report is not stored",
                                metadata: ["job": "\(job.job.id)", "image": "\(job.job.image)"])
                            job.lose()
                        }
                    }
                } catch {
                    // Cancelled while renewing: the worker is stopping, and hands its jobs back itself.
                    if Task.isCancelled || error is CancellationError { break }
                    logger.warning("cannot renew the leases of running jobs", metadata: ["jobs": "\(held.map(\.job.id))", "error": "\(FathomError.plain(error))"])
                }
            }
            await expireLeases()
        }
    }

    /// Ends the jobs whose workers died on their last attempt, and tells a dead scan's receivers.
    func expireLeases() async {
        do {
            for job in try await store.expireLeases(maxAttempts: configuration.maxAttempts, now: Date()) {
                logger.warning("job dead: its lease ran out on its last attempt", metadata: [
                    "job": "\(job.id)", "image": "\(job.image)", "error": "\(job.lastError ?? "")",
                ])
                do {
                    try await runner.notifyFailed(job, error: job.lastError ?? "its lease ran out")
                } catch {
                    logger.warning("cannot queue a failed scan's notification", metadata: ["job": "\(job.id)", "error": "\(FathomError.plain(error))"])
                }
            }
        } catch {
            // Said at debug level: a store that cannot be reached is said by the claims, once per
            // cause, and a shutdown cancels this.
            if !(Task.isCancelled || error is CancellationError) {
                logger.debug("cannot end the jobs whose leases ran out", metadata: ["error": "\(FathomError.plain(error))"])
            }
        }
    }

    /// One job of a batch, to the end: true when it succeeded (its end is for the loop to record,
    /// with its next claim); false when it failed (recorded here) or was handed back at shutdown.
    func process(_ job: Job, lease: JobLease, running: Locked<[Int64: JobLease]>, as worker: String) async -> Bool {
        // A job in flight is not cut short by a graceful shutdown, only by the end of its grace
        // period (this task cancelled). Then it goes back to the queue at once, its attempt
        // returned, without waiting for the scan to notice.
        // Its registry requests carry the job's id (`User-Agent: … (scan job-42)`).
        // A report is stored only under the lease (`JobLease.check`); a lease lost stops the scan.
        let scan = Task {
            try await JobLease.$current.withValue(lease) { try await RegistryScan.$id.withValue("job-\(job.id)") { try await runner.run(job) } }
        }
        lease.onLoss { scan.cancel() }
        guard let outcome = await Self.outcome(of: scan) else {
            scan.cancel()
            // The hand-back runs apart from this cancelled task (in it, the wait would end at once
            // and the process could exit before the store had the job back), for five seconds.
            switch await Self.atExit({ try await store.release(job.id, worker: worker, now: Date()) }) {
            case .success?: logger.info("handed a job back at shutdown", metadata: ["job": "\(job.id)", "image": "\(job.image)"])
            case .failure(let error)?:
                logger.warning("cannot hand a job back: its lease will run out", metadata: ["job": "\(job.id)", "error": "\(FathomError.plain(error))"])
            case nil: logger.warning("the store did not take a job back within 5 seconds: its lease will run out", metadata: ["job": "\(job.id)"])
            }
            return false
        }
        do {
            try outcome.get()
            return true
        } catch var error {
            // A scan stopped because its lease was lost says so, not that it was cancelled. Its
            // failure is recorded as any other's: the store takes it only from the job's holder.
            if lease.isLost { error = lease.lostError(cause: error is CancellationError ? nil : error) }
            let message = "\(FathomError.wrapping(error, image: job.image.isEmpty ? nil : job.image))"
            let delay = configuration.retryBackoff * (1 << min(job.attempts - 1, 10))
            logger.warning("job failed", metadata: ["job": "\(job.id)", "image": "\(job.image)", "error": "\(message)"])
            // A Harbor scan's credentials are fixed in its job: refused once, refused every time.
            // A scan request for an image the registry says it does not have is a typo, not a
            // fault to wait out (Harbor's names a digest, so its answer never changes either); a
            // push's job is retried, since the CNCF registry notifies a push before it moves the tag.
            let fathomError = error as? FathomError
            let permanent =
                job.kind == .harbor && fathomError?.code == .unauthorized
                || (job.kind == .harbor || job.kind == .scan && !WebhookPayload.isPush(job)) && fathomError?.registryHasNoSuchImage == true
            let maxAttempts = permanent ? job.attempts : configuration.maxAttempts
            // A job claimed again by this worker (a later attempt, after this one's lease ran
            // out) is that attempt's to end: the store knows the worker by name only.
            if running.withLock({ $0[job.id].map { $0 !== lease } ?? false }) {
                logger.warning("an earlier attempt of a job failed after it was claimed again: the later attempt ends it", metadata: ["job": "\(job.id)"])
                return false
            }
            let dead: Bool
            do {
                dead = try await store.fail(job.id, worker: worker, error: message, retryAfter: delay, maxAttempts: maxAttempts, now: Date())
            } catch {
                logger.warning("cannot record a job's failure: its lease will run out", metadata: ["job": "\(job.id)", "error": "\(FathomError.plain(error))"])
                return false
            }
            // Its last attempt (and still this worker's: one whose lease ran out is another's to
            // end): the receivers hear that it failed (a push's otherwise says nothing).
            if dead {
                do {
                    try await runner.notifyFailed(job, error: message)
                } catch {
                    logger.warning("cannot queue a failed scan's notification", metadata: ["job": "\(job.id)", "error": "\(FathomError.plain(error))"])
                }
            }
            return false
        }
    }
}

extension WorkerPool {
    /// A store write at shutdown (a hand-back, the ends of finished jobs): not cancelled with the
    /// calling task, since it must reach the store, but given five seconds, not the pod's whole
    /// grace, when the store does not answer (leases then return the jobs); nil then, and the
    /// write is cancelled.
    static func atExit(_ write: @escaping @Sendable () async throws -> Void) async -> Result<Void, any Error>? {
        let writing = Task { try await write() }
        let outcome = await Task(operation: { await Self.outcome(of: writing, within: .seconds(5)) }).value
        if outcome == nil { writing.cancel() }
        return outcome
    }

    /// The scan's result, or nil as soon as the calling task is cancelled or `limit` passed
    /// (the scan may still run).
    static func outcome(of scan: Task<Void, any Error>, within limit: Duration? = nil) async -> Result<Void, any Error>? {
        let waiting = Locked<CheckedContinuation<Result<Void, any Error>?, Never>?>(nil)
        let resume = { @Sendable (outcome: Result<Void, any Error>?) in
            let continuation = waiting.withLock { waiting in defer { waiting = nil }; return waiting }
            continuation?.resume(returning: outcome)
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiting.withLock { $0 = continuation }
                // Cancelled before the continuation was there: the handler found nothing to resume.
                if Task.isCancelled { resume(nil) }
                Task { resume(await scan.result) }
                if let limit {
                    Task {
                        try? await Task.sleep(for: limit)
                        resume(nil)
                    }
                }
            }
        } onCancel: {
            resume(nil)
        }
    }
}

extension WorkerPool: CustomStringConvertible {
    public var description: String { "WorkerPool" }
}
