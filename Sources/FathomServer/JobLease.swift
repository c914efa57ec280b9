import FathomCore
import FathomStore
import Foundation

/// A running job's lease as its worker knows it: held until `until` (the time the claim or the
/// last renewal that took was asked, plus the lease), or lost once the store says the job is no
/// longer this attempt's to finish. A worker frozen or cut off from the store for longer than
/// the lease may find its job taken by another worker (or by itself again, a later attempt), or
/// dead: it must then store no report (one standing beside a dead job, or beside another
/// attempt's). So a report is stored only while the lease holds (past its time by this clock,
/// the store is asked), and a lease the store says is lost stops the scan at once. A job that
/// was only put back in the queue, which no one has taken yet, is not lost: its scan goes on,
/// and the attempt that takes it finds the report stored and stops.
final class JobLease: Sendable {
    /// What the store says of the job, for this attempt.
    enum Standing: Sendable {
        /// Still this attempt's: its lease renewed.
        case held
        /// Back in the queue, taken by no one yet.
        case free
        /// Dead, done, or another attempt's (another worker's, or this worker's again).
        case lost
    }

    /// The lease of the job the current task runs (nil outside a worker's job).
    @TaskLocal static var current: JobLease?

    let job: Job
    let length: Duration
    /// Renews this attempt's lease in the store, as asked at the given time, and says where it stands.
    private let standing: @Sendable (Date) async throws -> Standing
    private let state: Locked<(until: Date, lost: Bool, stop: (@Sendable () -> Void)?)>

    init(job: Job, askedAt: Date, length: Duration, standing: @escaping @Sendable (Date) async throws -> Standing) {
        self.job = job
        self.length = length
        self.standing = standing
        state = Locked((askedAt + length.seconds, false, nil))
    }

    /// The store renewed it: held until `askedAt` (when the renewal was asked) plus the lease.
    func renewed(askedAt: Date) {
        state.withLock { $0.until = max($0.until, askedAt + length.seconds) }
    }

    /// The store said it is no longer this attempt's: stops the scan.
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

    /// True once the store said the job is no longer this attempt's.
    var isLost: Bool { state.withLock { $0.lost } }

    /// Why nothing more of the job is stored, once its lease is lost (`cause`: the failure it
    /// replaces, kept).
    func lostError(cause: (any Error)? = nil) -> FathomError {
        FathomError(
            .leaseLost, "job \(job.id) lost its lease (it ended, or another attempt holds it): its report is not stored",
            image: job.image.isEmpty ? nil : job.image, cause: cause)
    }

    /// Where the job stands now, by the store (renewing the lease when it is still held).
    func ask() async throws -> Standing {
        let asked = Date()
        let answer = try await standing(asked)
        switch answer {
        case .held: renewed(askedAt: asked)
        case .lost: lose()
        case .free: break
        }
        return answer
    }

    /// Throws when the job is no longer this attempt's: what is about to be stored would stand
    /// beside another attempt's or a dead job. Past its time by this clock (renewals late or
    /// failing), the store is asked, so a worker that was only slow to renew goes on.
    func check() async throws {
        let (until, lost) = state.withLock { ($0.until, $0.lost) }
        if lost { throw lostError() }
        guard Date() >= until else { return }
        let answer: Standing
        do {
            answer = try await ask()
        } catch {
            throw FathomError(
                .leaseLost,
                "job \(job.id)'s lease ran out at \(until.formatted(.iso8601)) and the store cannot say whether this attempt still holds it: its report is not stored",
                image: job.image.isEmpty ? nil : job.image, cause: error)
        }
        if answer == .lost { throw lostError() }
    }
}

extension JobLease {
    /// The store's answer for `job`'s attempt as `worker` claimed it: renewed when still held,
    /// else what became of it.
    static func standing(of job: Job, worker: String, lease: Duration, in store: any Store, now: Date) async throws -> Standing {
        let renewed = try await store.renew([job.id], worker: worker, lease: lease, now: now).contains(job.id)
        return try await standing(of: job, renewed: renewed, worker: worker, in: store)
    }

    /// What became of `job`'s attempt, the store's renewal having taken (`renewed`) or not.
    static func standing(of job: Job, renewed: Bool, worker: String, in store: any Store) async throws -> Standing {
        guard let now = try await store.job(job.id) else { return .lost }
        // The same worker may have claimed it again: a later attempt's lease is not this one's.
        if renewed { return now.attempts == job.attempts ? .held : .lost }
        return now.state == .queued ? .free : .lost
    }
}
