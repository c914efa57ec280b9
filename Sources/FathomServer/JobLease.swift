import FathomCore
import FathomStore
import Foundation

/// A running job's lease as its worker knows it: held until `until` (the time the claim or the
/// last renewal that took was asked, plus the lease), or lost when the store said it no longer
/// holds it. A worker frozen or cut off from the store for longer than the lease may find its
/// job taken by another worker, or dead: it must then store nothing (a report standing beside a
/// dead job, or a second one beside another worker's), so a report is stored only under a lease
/// still held, by this process's clock, and a lost lease stops the scan at once.
final class JobLease: Sendable {
    /// The lease of the job the current task runs (nil outside a worker's job).
    @TaskLocal static var current: JobLease?

    let job: Job
    private let state: Locked<(until: Date, lost: Bool, stop: (@Sendable () -> Void)?)>

    init(job: Job, askedAt: Date, lease: Duration) {
        self.job = job
        state = Locked((askedAt + lease.seconds, false, nil))
    }

    /// The store renewed it: held until `askedAt` (when the renewal was asked) plus the lease.
    func renewed(askedAt: Date, lease: Duration) {
        state.withLock { $0.until = max($0.until, askedAt + lease.seconds) }
    }

    /// The store said it no longer holds it (another worker's now, or ended): stops the scan.
    func lose() {
        let stop = state.withLock { state in
            state.lost = true
            defer { state.stop = nil }
            return state.stop
        }
        stop?()
    }

    /// What stops the job's scan when the lease is lost (at once, if it is lost already).
    func onLoss(_ stop: @escaping @Sendable () -> Void) {
        let lost = state.withLock { state in
            if !state.lost { state.stop = stop }
            return state.lost
        }
        if lost { stop() }
    }

    /// True when the store said another holds it, or its time ran out before a renewal took.
    var isLost: Bool { state.withLock { $0.lost || Date() >= $0.until } }

    /// Throws when the lease is no longer held: what is about to be stored would stand beside
    /// another worker's attempt or a dead job.
    func check() throws {
        let (until, lost) = state.withLock { ($0.until, $0.lost) }
        if lost {
            throw FathomError(.leaseLost, "job \(job.id) lost its lease (another worker took it, or it ended): its report is not stored", image: job.image.isEmpty ? nil : job.image)
        }
        if Date() >= until {
            throw FathomError(
                .leaseLost,
                "job \(job.id)'s lease ran out at \(until.formatted(.iso8601)) before its report was stored (no renewal reached the store): not stored, since another worker may hold it",
                image: job.image.isEmpty ? nil : job.image)
        }
    }
}
