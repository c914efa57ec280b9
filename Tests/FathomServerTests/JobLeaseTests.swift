import FathomCore
@testable import FathomServer
import FathomStore
import FathomTestSupport
import Foundation
import Testing

/// What a worker stores under its job's lease, with the lease held in a real store: past its
/// time by the worker's clock, the store is asked. A worker only slow to renew goes on; so does
/// one whose job was put back in the queue and taken by no one; one whose job another attempt
/// holds (another worker's, or its own again) stores nothing and its scan is stopped.
@Suite struct JobLeaseTests {
    @Test func aLeasePastItsTimeIsAskedOfTheStore() async throws {
        let store = try await StoreBackend.sqlite.open("joblease")
        defer { Task { try? await store.close() } }
        let start = Date()
        let lease = Duration.seconds(30)
        _ = try await store.enqueue(NewJob(kind: .scan, key: "scan r/a:1", image: "r/a:1", repository: "a", reference: "1"), now: start)
        let first = try #require(try await store.claim(worker: "w1", lease: lease, now: start))
        /// A lease whose time ran out by this clock (claimed two leases ago, never renewed).
        func late(_ job: Job) -> (JobLease, Locked<Bool>) {
            let lease = JobLease(job: job, askedAt: start.addingTimeInterval(-60), length: lease) { now in
                try await JobLease.standing(of: job, worker: "w1", lease: lease, in: store, now: now)
            }
            let stopped = Locked(false)
            lease.onLoss { stopped.withLock { $0 = true } }
            return (lease, stopped)
        }
        // The store still gives the job to this attempt (no one took it): the report may be stored.
        let (held, heldStopped) = late(first)
        try await held.check()
        #expect(!held.isLost && !heldStopped.withLock { $0 })

        // Its lease ran out in the store, and a claim put it back in the queue (to be taken
        // within half a lease): no one holds it, so the scan goes on and may store its report.
        let later = Date().addingTimeInterval(120)
        var again = try await store.claim(worker: "w1", lease: lease, now: later)
        if again == nil {
            let (free, freeStopped) = late(first)
            try await free.check()
            #expect(!free.isLost && !freeStopped.withLock { $0 })
            again = try await store.claim(worker: "w1", lease: lease, now: later.addingTimeInterval(16))
        }

        // The same worker took it again: the earlier attempt's lease is lost, though the store
        // knows the worker by name only; the later attempt's is held.
        let second = try #require(again, "the job claimed again")
        #expect(second.id == first.id && second.attempts == 2)
        let (stale, staleStopped) = late(first)
        do {
            try await stale.check()
            Issue.record("an earlier attempt's lease is not held")
        } catch let error as FathomError {
            #expect(error.code == .leaseLost && error.image == "r/a:1" && "\(error)".contains("job \(first.id) lost its lease"), "\(error)")
        }
        #expect(stale.isLost && staleStopped.withLock { $0 }, "a lost lease stops the scan")
        await #expect(throws: FathomError.self) { try await stale.check() }
        let (current, _) = late(second)
        try await current.check()
        #expect(!current.isLost)

        // A store that cannot answer cannot vouch for the lease: nothing is stored.
        let unanswered = JobLease(job: first, askedAt: start.addingTimeInterval(-60), length: lease) { _ in
            throw FathomError(.transport, "connection refused")
        }
        do {
            try await unanswered.check()
            Issue.record("a lease past its time that the store cannot confirm is not held")
        } catch let error as FathomError {
            #expect(error.code == .leaseLost && "\(error)".contains("cannot say") && "\(error)".contains("connection refused"), "\(error)")
        }
        // Within its time, the store is not asked.
        let fresh = JobLease(job: first, askedAt: Date(), length: lease) { _ in
            Issue.record("a lease within its time is not asked of the store")
            return .lost
        }
        try await fresh.check()
    }
}
