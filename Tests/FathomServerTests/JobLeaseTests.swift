import FathomCore
@testable import FathomServer
import FathomStore
import FathomTestSupport
import Foundation
import Testing

/// What a worker stores under its job's lease, with the lease held in a real store: past its
/// time by the worker's clock, the store is asked; a worker that was only slow to renew goes on,
/// one whose job another worker took stores nothing and its scan is stopped.
@Suite struct JobLeaseTests {
    @Test func aLeasePastItsTimeIsAskedOfTheStore() async throws {
        let store = try await StoreBackend.sqlite.open("joblease")
        defer { Task { try? await store.close() } }
        let start = Date()
        let lease = Duration.seconds(30)
        _ = try await store.enqueue(NewJob(kind: .scan, key: "scan r/a:1", image: "r/a:1", repository: "a", reference: "1"), now: start)
        let job = try #require(try await store.claim(worker: "w1", lease: lease, now: start))
        // By this worker's clock its lease ran out (it was claimed two leases ago, never renewed).
        let held = JobLease(job: job, askedAt: start.addingTimeInterval(-60), length: lease) { now in
            try await store.renew([job.id], worker: "w1", lease: lease, now: now).contains(job.id)
        }
        let stopped = Locked(false)
        held.onLoss { stopped.withLock { $0 = true } }
        // The store still gives the job to w1 (no one took it): the report may be stored.
        try await held.check()
        #expect(!held.isLost && !stopped.withLock { $0 })

        // Another worker takes it once the store's lease ran out; w1, asked again, has lost it.
        let later = Date().addingTimeInterval(120)
        // (The first claim after a lease ran out puts the job back within half a lease, at random.)
        var taken = try await store.claim(worker: "w2", lease: lease, now: later)
        if taken == nil { taken = try await store.claim(worker: "w2", lease: lease, now: later.addingTimeInterval(16)) }
        #expect(taken?.id == job.id)
        let late = JobLease(job: job, askedAt: start.addingTimeInterval(-60), length: lease) { now in
            try await store.renew([job.id], worker: "w1", lease: lease, now: now).contains(job.id)
        }
        let lateStopped = Locked(false)
        late.onLoss { lateStopped.withLock { $0 = true } }
        await #expect(throws: FathomError.self) { try await late.check() }
        #expect(late.isLost && lateStopped.withLock { $0 }, "a lease the store refuses stops the scan")
        do {
            try await late.check()
            Issue.record("a lost lease stays lost")
        } catch let error as FathomError {
            #expect(error.code == .leaseLost && error.image == "r/a:1" && "\(error)".contains("job \(job.id) lost its lease"), "\(error)")
        }

        // A store that cannot answer cannot vouch for the lease: nothing is stored.
        let unanswered = JobLease(job: job, askedAt: start.addingTimeInterval(-60), length: lease) { _ in
            throw FathomError(.transport, "connection refused")
        }
        do {
            try await unanswered.check()
            Issue.record("a lease past its time that the store cannot confirm is not held")
        } catch let error as FathomError {
            #expect(error.code == .leaseLost && "\(error)".contains("cannot say") && "\(error)".contains("connection refused"), "\(error)")
        }
        // Within its time, the store is not asked.
        let fresh = JobLease(job: job, askedAt: Date(), length: lease) { _ in
            Issue.record("a lease within its time is not asked of the store")
            return false
        }
        try await fresh.check()
    }
}
