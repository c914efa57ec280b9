import FathomCore
import FathomStore
import Foundation

/// A running job's lease as its worker knows it: held until `until` (the time the claim or the
/// last renewal that took was asked, plus the lease), or lost when the store said it no longer
/// holds it. A worker frozen or cut off from the store for longer than the lease may find its
/// job taken by another worker, or dead: it must then store nothing (a report standing beside a
/// dead job, or a second one beside another worker's). So a report is stored only under a
/// lease still held (past its time by this process's clock, the store is asked), and a lease
/// the store refuses to renew stops the scan at once.
final class JobLease: Sendable {
    /// The lease of the job the current task runs (nil outside a worker's job).
    @TaskLocal static var current: JobLease?

    let job: Job
    let length: Duration
    /// Renews this job's lease in the store, as asked at the given time; false when the store
    /// no longer gives the job to this worker.
    private let renewal: @Sendable (Date) async throws -> Bool
    private let state: Locked<(until: Date, lost: Bool, stop: (@Sendable () -> Void)?)>

    init(job: Job, askedAt: Date, length: Duration, renewal: @escaping @Sendable (Date) async throws -> Bool) {
        self.job = job
        self.length = length
        self.renewal = renewal
        state = Locked((askedAt + length.seconds, false, nil))
    }

    /// The store renewed it: held until `askedAt` (when the renewal was asked) plus the lease.
    func renewed(askedAt: Date) {
        state.withLock { $0.until = max($0.until, askedAt + length.seconds) }
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

    /// True once the store said this worker no longer holds it.
    var isLost: Bool { state.withLock { $0.lost } }

    /// Why nothing of the job is stored, once its lease is lost.
    var lostError: FathomError {
        FathomError(
            .leaseLost, "job \(job.id) lost its lease (another worker took it, or it ended): nothing of it is stored",
            image: job.image.isEmpty ? nil : job.image)
    }

    /// Throws unless the lease is held: what is about to be stored would stand beside another
    /// worker's attempt or a dead job. Past its time by this clock (renewals late or failing),
    /// the store is asked, so a worker that was only slow to renew goes on.
    func check() async throws {
        let (until, lost) = state.withLock { ($0.until, $0.lost) }
        if lost { throw lostError }
        guard Date() >= until else { return }
        let asked = Date()
        let held: Bool
        do {
            held = try await renewal(asked)
        } catch {
            throw FathomError(
                .leaseLost,
                "job \(job.id)'s lease ran out at \(until.formatted(.iso8601)) and the store cannot say whether this worker still holds it: nothing of it is stored",
                image: job.image.isEmpty ? nil : job.image, cause: error)
        }
        guard held else {
            lose()
            throw lostError
        }
        renewed(askedAt: asked)
    }
}
