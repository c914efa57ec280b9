@testable import FathomAdvisory
import FathomArchive
import FathomCore
import FathomInventory
import FathomStore
import FathomTestSupport
import Foundation
import PostgresNIO
import Testing
@testable import FathomPostgresStore
import FathomStores

/// The store protocols' promises, held by both back ends: the embedded SQLite store and the
/// shared PostgreSQL one (a real server, one database per test).
@Suite(.serialized, .timeLimit(.minutes(3))) struct StoreContractTests {
    typealias Backend = StoreBackend

    static func open(_ backend: Backend, _ label: String) async throws -> any Store { try await backend.open(label) }

    /// A scan job of `name`'s push of `digest`.
    static func scan(_ name: String, _ digest: String) -> NewJob {
        NewJob(kind: .scan, key: "scan \(name)@\(digest)", image: name, repository: "a", reference: "1")
    }

    @Test(arguments: Backend.allCases) func theJobQueueLeasesRetriesAndDeduplicates(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "jobs")
        defer { Task { try? await store.close() } }
        let now = Date()
        let job = NewJob(kind: .scan, key: "scan r/a:1@sha256:1", image: "r/a:1", repository: "a", reference: "1")
        let (id, added) = try await store.enqueue(job, now: now)
        #expect(added)
        let again = try await store.enqueue(job, now: now)
        #expect(again.id == id && !again.added)

        let claimed = try #require(try await store.claim(worker: "w1", lease: .seconds(30), now: now))
        #expect(claimed.id == id && claimed.state == .running && claimed.attempts == 1 && claimed.worker == "w1")
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), now: now) == nil)
        // Still pending while running: a second push of it adds nothing.
        #expect(try await store.enqueue(job, now: now).added == false)
        #expect(try await store.renew(id, worker: "w1", lease: .seconds(30), now: now))
        #expect(try await store.renew(id, worker: "w2", lease: .seconds(30), now: now) == false)
        // A worker stopping hands the job back: queued at once, its attempt returned; another
        // worker's hand-back of it changes nothing.
        try await store.release(id, worker: "w2", now: now)
        #expect(try await store.job(id)?.state == .running)
        try await store.release(id, worker: "w1", now: now)
        let handedBack = try #require(try await store.job(id))
        #expect(handedBack.state == .queued && handedBack.attempts == 0 && handedBack.worker == nil)
        let reclaimed = try #require(try await store.claim(worker: "w1", lease: .seconds(30), now: now))
        #expect(reclaimed.id == id && reclaimed.attempts == 1)

        // The lease runs out (w1 died): the job is runnable again within half a lease, at random,
        // and another worker takes it, attempt 2.
        let later = now.addingTimeInterval(31)
        var due = try await store.claim(worker: "w2", lease: .seconds(30), now: later)
        if due == nil { due = try await store.claim(worker: "w2", lease: .seconds(30), now: later.addingTimeInterval(16)) }
        let retaken = try #require(due)
        #expect(retaken.id == id && retaken.attempts == 2 && retaken.worker == "w2")
        // w1's late answers are ignored: the job is w2's.
        try await store.complete(id, worker: "w1", now: later)
        #expect(try await store.job(id)?.state == .running)
        // A failure queues it again after the backoff, until the attempts are spent.
        #expect(try await store.fail(id, worker: "w2", error: "registry said 500", retryAfter: .seconds(10), maxAttempts: 3, now: later) == false)
        #expect(try await store.job(id)?.state == .queued)
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), now: later.addingTimeInterval(5)) == nil)
        let third = try #require(try await store.claim(worker: "w2", lease: .seconds(30), now: later.addingTimeInterval(11)))
        // Another worker's word on it changes nothing, and says so.
        #expect(try await store.fail(third.id, worker: "w1", error: "late", retryAfter: .seconds(10), maxAttempts: 3, now: later.addingTimeInterval(12)) == false)
        #expect(try await store.fail(third.id, worker: "w2", error: "registry said 500", retryAfter: .seconds(10), maxAttempts: 3, now: later.addingTimeInterval(12)))
        let dead = try #require(try await store.job(id))
        #expect(dead.state == .dead && dead.attempts == 3 && dead.lastError == "registry said 500")
        // Once nothing is pending, the same key queues a new job.
        let fresh = try await store.enqueue(job, now: later)
        #expect(fresh.added && fresh.id != id)
        let claimedFresh = try #require(try await store.claim(worker: "w3", lease: .seconds(30), now: later.addingTimeInterval(20)))
        try await store.complete(claimedFresh.id, worker: "w3", now: later.addingTimeInterval(21))
        #expect(try await store.jobCounts() == [.queued: 0, .running: 0, .done: 1, .dead: 1])
        #expect(try await store.jobs(state: .dead, limit: 10).map(\.id) == [id])
        #expect(try await store.latestJob(repository: "a", reference: "1")?.id == fresh.id)
    }

    /// An image that kills each worker that reads it (out of memory, a crash) is not retried
    /// forever: a lease that runs out uses an attempt, and the last one leaves the job dead,
    /// its error naming the worker lost, its secret dropped.
    @Test(arguments: Backend.allCases) func aJobWhoseWorkersDieIsDeadAfterItsAttempts(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "poison")
        defer { Task { try? await store.close() } }
        let now = Date()
        let payload = #"{"registry":"r","\#(Job.secretPayloadField)":"c2VhbGVk"}"#
        let id = try await store.enqueue(
            NewJob(kind: .scan, key: "scan r/a:1@sha256:1", image: "r/a:1", repository: "a", reference: "1", payload: payload), now: now
        ).id
        let first = try await store.claim(worker: "w1", lease: .seconds(30), limit: 1, localSources: true, maxAttempts: 2, now: now)
        #expect(first.map(\.attempts) == [1])
        // w1 died: past the lease, the job is queued again (runnable within half a lease, at
        // random), its secret kept for the next attempt; then taken for its second attempt.
        func claim(_ worker: String, at seconds: TimeInterval) async throws -> [Job] {
            try await store.claim(worker: worker, lease: .seconds(30), limit: 1, localSources: true, maxAttempts: 2, now: now.addingTimeInterval(seconds))
        }
        var second = try await claim("w2", at: 31)
        if second.isEmpty {
            let queued = try #require(try await store.job(id))
            #expect(queued.state == .queued && queued.payload?.contains(Job.secretPayloadField) == true, "\(queued)")
            second = try await claim("w2", at: 47)
        }
        #expect(second.map(\.attempts) == [2] && second.first?.worker == "w2")
        #expect(second.first?.payload?.contains(Job.secretPayloadField) == true)
        #expect(second.first?.lastError?.contains("(w1) stopped answering") == true, "\(String(describing: second.first?.lastError))")
        // w2 died too: that was its last attempt. It is not taken again; the next heartbeat's
        // look for such jobs ends it, once.
        #expect(try await claim("w3", at: 80).isEmpty)
        #expect(try await store.job(id)?.state == .running)
        #expect(try await store.expireLeases(maxAttempts: 2, now: now.addingTimeInterval(40)).isEmpty, "its lease had not run out")
        let ended = try await store.expireLeases(maxAttempts: 2, now: now.addingTimeInterval(81))
        #expect(ended.map(\.id) == [id] && ended.first?.state == .dead)
        #expect(try await store.expireLeases(maxAttempts: 2, now: now.addingTimeInterval(82)).isEmpty, "ended once")
        let dead = try #require(try await store.job(id))
        #expect(dead.state == .dead && dead.attempts == 2 && dead.worker == nil)
        #expect(dead.lastError == Job.leaseRanOut.before + "w2" + Job.leaseRanOut.after)
        #expect(dead.payload?.contains(Job.secretPayloadField) == false, "\(dead.payload ?? "")")
        #expect(try await store.jobCounts()[.dead] == 1)
    }

    /// Two pushes of one tag: the later job waits while the earlier runs or can run, so its
    /// scan is compared with the earlier one's; other names and other kinds are not held.
    @Test(arguments: Backend.allCases) func theJobsOfOneNameRunInTurn(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "turns")
        defer { Task { try? await store.close() } }
        let now = Date()
        let first = try await store.enqueue(Self.scan("r/a:1", "sha256:1"), now: now).id
        let second = try await store.enqueue(Self.scan("r/a:1", "sha256:2"), now: now).id
        let other = try await store.enqueue(Self.scan("r/b:1", "sha256:1"), now: now).id
        let rescan = try await store.enqueue(NewJob(kind: .rescan, key: "rescan 1", image: "", repository: nil, reference: nil), now: now).id
        let rescanAgain = try await store.enqueue(NewJob(kind: .rescan, key: "rescan 2", image: "", repository: nil, reference: nil), now: now).id
        // One batch: the earlier push, the other name, both rescans; not the later push.
        let batch = try await store.claim(worker: "w1", lease: .seconds(30), limit: 10, now: now)
        #expect(batch.map(\.id) == [first, other, rescan, rescanAgain])
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now).isEmpty, "the earlier push is running")
        // The earlier push waiting out a retry's backoff holds the later one back no more (it
        // reads the tag as it runs); its retry then waits for the later one.
        try await store.fail(first, worker: "w1", error: "registry said 500", retryAfter: .seconds(10), maxAttempts: 2, now: now)
        let then = try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now.addingTimeInterval(5))
        #expect(then.map(\.id) == [second])
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now.addingTimeInterval(11)).isEmpty, "the later push is running")
        // Its end wakes an idle worker for the next of its name (NOTIFY on PostgreSQL). The
        // first wait starts PostgreSQL's listener.
        await store.waitForJobs(since: store.jobSignal(), upTo: .milliseconds(500))
        let signal = store.jobSignal()
        let started = ContinuousClock.now
        let waiting = Task { await store.waitForJobs(since: signal, upTo: .seconds(30)) }
        try await store.complete(second, worker: "w2", now: now.addingTimeInterval(12))
        await waiting.value
        #expect(ContinuousClock.now - started < .seconds(10), "the end of the later push woke no idle worker")
        let retried = try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now.addingTimeInterval(12))
        #expect(retried.map(\.id) == [first])
        #expect(retried.first?.startedAt == batch.first?.startedAt && batch.first?.startedAt != nil, "a retry keeps its first attempt's start")
        // A dead job holds nothing back.
        let third = try await store.enqueue(Self.scan("r/a:1", "sha256:3"), now: now).id
        let fourth = try await store.enqueue(Self.scan("r/a:1", "sha256:4"), now: now).id
        try await store.complete(first, worker: "w2", now: now.addingTimeInterval(13))
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now.addingTimeInterval(13)).map(\.id) == [third])
        try await store.fail(third, worker: "w2", error: "manifest unknown", retryAfter: .seconds(10), maxAttempts: 1, now: now.addingTimeInterval(14))
        #expect(try await store.job(third)?.state == .dead)
        #expect(try await store.claim(worker: "w2", lease: .seconds(30), limit: 10, now: now.addingTimeInterval(14)).map(\.id) == [fourth])
    }

    /// A worker ends its finished jobs and refills their places in one step: the ends are
    /// recorded (only for the jobs it holds), the claim takes what was runnable before them,
    /// and a waiting successor of an ended job is announced and taken by the next claim.
    @Test(arguments: Backend.allCases) func finishedJobsEndAndTheirPlacesAreRefilledInOneStep(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "refill")
        defer { Task { try? await store.close() } }
        let now = Date()
        let first = try await store.enqueue(Self.scan("r/a:1", "sha256:1"), now: now).id
        let successor = try await store.enqueue(Self.scan("r/a:1", "sha256:2"), now: now).id
        let other = try await store.enqueue(Self.scan("r/c:1", "sha256:1"), now: now).id
        #expect(try await store.claim(worker: "w1", lease: .seconds(30), limit: 1, now: now).map(\.id) == [first])
        // The first wait starts PostgreSQL's listener.
        await store.waitForJobs(since: store.jobSignal(), upTo: .milliseconds(500))
        let signal = store.jobSignal()
        let started = ContinuousClock.now
        let waiting = Task { await store.waitForJobs(since: signal, upTo: .seconds(30)) }
        let refill = try await store.complete(
            [first], thenClaim: 5, worker: "w1", lease: .seconds(30), localSources: true, now: now.addingTimeInterval(1))
        #expect(try await store.job(first)?.state == .done)
        // PostgreSQL's one statement sees the successor still held back; SQLite's two steps take it.
        #expect(refill.map(\.id) == (backend == .postgres ? [other] : [successor, other]))
        await waiting.value
        #expect(ContinuousClock.now - started < .seconds(10), "the end of the first push announced no successor")
        let next = try await store.claim(worker: "w1", lease: .seconds(30), limit: 5, now: now.addingTimeInterval(1))
        #expect(Set((refill + next).map(\.id)) == [other, successor])
        // Another worker's end of a job it does not hold changes nothing.
        #expect(try await store.complete([other], thenClaim: 5, worker: "w2", lease: .seconds(30), localSources: true, now: now.addingTimeInterval(2)).isEmpty)
        let held = try await store.job(other)
        #expect(held?.state == .running && held?.worker == "w1")
        // Ends alone (no place to fill).
        #expect(try await store.complete([other], thenClaim: 0, worker: "w1", lease: .seconds(30), localSources: true, now: now.addingTimeInterval(3)).isEmpty)
        #expect(try await store.job(other)?.state == .done)
        #expect(try await store.job(successor)?.state == .running)
    }

    /// A job of a kind a newer fathom queued (a rolling upgrade) is left for a worker that
    /// knows it: not taken, not failed, its attempts untouched.
    @Test(arguments: Backend.allCases) func aJobOfAnUnknownKindWaitsForAWorkerThatKnowsIt(_ backend: Backend) async throws {
        let location = try await Self.location(backend, "kinds")
        let store = try await openStore(location)
        defer { Task { try? await store.close() } }
        let now = Date()
        let insert = "INSERT INTO jobs (kind, job_key, image, state, not_before, created_at, updated_at) VALUES ('sign', 'sign r/a:1', 'r/a:1', 'queued', 0, 0, 0)"
        try await Self.sql(insert, backend, at: location)
        let scan = try await store.enqueue(NewJob(kind: .scan, key: "scan r/b:1", image: "r/b:1", repository: "b", reference: "1"), now: now).id
        #expect(try await store.claim(worker: "w", lease: .seconds(300), limit: 10, now: now).map(\.id) == [scan])
        #expect(try await store.claim(worker: "w", lease: .seconds(300), limit: 10, now: now.addingTimeInterval(60)).isEmpty)
        #expect(try await store.jobCounts()[.queued] == 1, "the unknown kind stays queued")
    }

    /// A batch: up to `limit` jobs claimed in one statement, oldest first, none twice; one
    /// renewal covers the batch and says which the worker still holds.
    @Test(arguments: Backend.allCases) func jobsAreClaimedAndRenewedInBatches(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "batches")
        defer { Task { try? await store.close() } }
        let now = Date()
        var ids: [Int64] = []
        for number in 0..<5 {
            ids.append(try await store.enqueue(NewJob(kind: .scan, key: "batch \(number)", image: "r/b:\(number)", repository: "b", reference: "\(number)"), now: now).id)
        }
        let first = try await store.claim(worker: "w1", lease: .seconds(30), limit: 3, now: now)
        #expect(first.map(\.id) == Array(ids[0..<3]) && first.allSatisfy { $0.state == .running && $0.worker == "w1" && $0.attempts == 1 })
        let second = try await store.claim(worker: "w2", lease: .seconds(30), limit: 3, now: now)
        #expect(second.map(\.id) == Array(ids[3..<5]))
        #expect(try await store.claim(worker: "w3", lease: .seconds(30), limit: 3, now: now).isEmpty)
        try await store.complete(ids[1], worker: "w1", now: now)
        #expect(try await store.renew(ids, worker: "w1", lease: .seconds(30), now: now) == [ids[0], ids[2]])
        // The renewed leases hold past the first ones; w2's, not renewed, run out.
        let later = now.addingTimeInterval(40)
        #expect(try await store.renew([ids[0], ids[2]], worker: "w1", lease: .seconds(30), now: now.addingTimeInterval(20)) == [ids[0], ids[2]])
        // Queued again at once, runnable within half a lease at random (the first claim may take
        // one, both or neither): by then both. w1's, renewed again, are still its own.
        #expect(try await store.renew([ids[0], ids[2]], worker: "w1", lease: .seconds(60), now: later) == [ids[0], ids[2]])
        var retaken = try await store.claim(worker: "w3", lease: .seconds(30), limit: 10, now: later)
        retaken += try await store.claim(worker: "w3", lease: .seconds(30), limit: 10, now: later.addingTimeInterval(16))
        #expect(retaken.map(\.id).sorted() == Array(ids[3..<5]) && retaken.allSatisfy { $0.attempts == 2 })
    }

    /// An idle worker waiting for jobs is woken by a job queued in another process (PostgreSQL's
    /// LISTEN/NOTIFY; on SQLite, by this process's own enqueue), long before its time limit; a
    /// job queued between its look and its wait ends the wait at once.
    @Test(arguments: Backend.allCases) func aQueuedJobWakesIdleWorkers(_ backend: Backend) async throws {
        let (waiter, queuer): (any Store, any Store)
        switch backend {
        case .postgres:
            let url = try await LocalPostgres.shared.value.database("wakeups")
            (waiter, queuer) = (try await openStore(url), try await openStore(url))
        case .sqlite:
            waiter = try await Self.open(backend, "wakeups")
            queuer = waiter
        }
        defer { Task { try? await waiter.close(); try? await queuer.close() } }
        // The first wait starts PostgreSQL's listener.
        await waiter.waitForJobs(since: waiter.jobSignal(), upTo: .milliseconds(500))
        for number in 0..<2 {
            let signal = waiter.jobSignal()
            let started = ContinuousClock.now
            let waiting = Task { await waiter.waitForJobs(since: signal, upTo: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(200))
            _ = try await queuer.enqueue(NewJob(kind: .scan, key: "wake \(number)", image: "r/w:\(number)", repository: "w", reference: "\(number)"), now: Date())
            await waiting.value
            #expect(ContinuousClock.now - started < .seconds(5), "woken after \(ContinuousClock.now - started)")
        }
        let signal = waiter.jobSignal()
        _ = try await queuer.enqueue(NewJob(kind: .scan, key: "wake late", image: "r/w:late", repository: "w", reference: "late"), now: Date())
        try await Task.sleep(for: .milliseconds(500))
        let started = ContinuousClock.now
        await waiter.waitForJobs(since: signal, upTo: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(1), "a wake before the wait was lost")
    }

    @Test(arguments: Backend.allCases) func notificationsWaitUntilDeliveredUnderOneID(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "outbox")
        defer { Task { try? await store.close() } }
        let now = Date()
        let notification = OutgoingNotification(deliveryID: "d-1", url: "http://127.0.0.1:1/hook", body: Array(#"{"a":1}"#.utf8))
        try await store.enqueueNotifications([notification, notification], now: now)
        // Only a process sending to its receiver takes it (one given other receivers leaves it).
        let urls = ["http://127.0.0.1:2/other", notification.url]
        #expect(try await store.dueNotifications(limit: 10, lease: .seconds(60), urls: ["http://127.0.0.1:2/other"], now: now).isEmpty)
        let due = try await store.dueNotifications(limit: 10, lease: .seconds(60), urls: urls, now: now)
        #expect(due == [notification])
        // Held while one process sends it.
        #expect(try await store.dueNotifications(limit: 10, lease: .seconds(60), urls: urls, now: now.addingTimeInterval(1)).isEmpty)
        try await store.markFailed("d-1", error: "answered 500", retryAt: now.addingTimeInterval(2))
        let retry = try await store.dueNotifications(limit: 10, lease: .seconds(60), urls: urls, now: now.addingTimeInterval(3))
        #expect(retry.map(\.deliveryID) == ["d-1"] && retry.first?.attempts == 1 && retry.first?.body == notification.body)
        #expect(try await store.waitingNotifications() == 1)
        try await store.markDelivered("d-1", now: now.addingTimeInterval(4))
        #expect(try await store.dueNotifications(limit: 10, lease: .seconds(60), urls: urls, now: now.addingTimeInterval(3600)).isEmpty)
        let counts = try await store.notificationCounts()
        #expect(counts.delivered == 1 && counts.waiting == 0)
        #expect(try await store.waitingNotifications() == 0)
    }

    @Test(arguments: Backend.allCases) func eventsAreKeptOncePerID(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "events")
        defer { Task { try? await store.close() } }
        let digest = Digest.sha256(of: Array("manifest".utf8))
        let push = RegistryEvent(
            id: "e-1", action: .push, repository: "team/app", tag: "1", digest: digest, mediaType: nil,
            timestamp: Date(timeIntervalSince1970: 1_700_000_000))
        let pull = RegistryEvent(
            id: "e-2", action: .pull, repository: "team/app", tag: nil, digest: digest, mediaType: nil,
            timestamp: Date(timeIntervalSince1970: 1_700_000_500))
        #expect(try await store.importEvents([push, pull]) == 2)
        #expect(try await store.importEvents([push]) == 0)
        #expect(try await store.lastEvent(.push, repository: "team/app", tag: "1", digest: nil) == push.timestamp)
        // A pull by digest counts for the tag that names that digest.
        #expect(try await store.lastEvent(.pull, repository: "team/app", tag: "1", digest: digest) == pull.timestamp)
        #expect(try await store.lastEvent(.pull, repository: "team/other", tag: "1", digest: digest) == nil)
    }

    /// PostgreSQL hands out ids in the order they are asked for, not in the order their
    /// transactions commit: an enqueue of a name waits for an earlier one still committing, so a
    /// claim never sees the later job of the name without the earlier. The earlier enqueue is
    /// psql running the store's own statements, its commit held for two seconds.
    @Test func anEnqueueWaitsForAnEarlierOneOfItsNameToCommit() async throws {
        let location = try await Self.location(.postgres, "enqueueorder")
        let store = try await openStore(location)
        defer { Task { try? await store.close() } }
        let now = Date()
        let at = Int64(now.timeIntervalSince1970 * 1000)
        let earlier = Task {
            try await Self.sql(
                """
                BEGIN;
                SELECT pg_advisory_xact_lock(\(PostgresStore.enqueueLockSpace), hashtext('r/a:1'));
                INSERT INTO jobs (kind, job_key, image, repository, reference, state, not_before, created_at, updated_at)
                    VALUES ('scan', 'scan r/a:1@sha256:1', 'r/a:1', 'a', '1', 'queued', \(at), \(at), \(at));
                SELECT pg_sleep(3);
                COMMIT;
                """, .postgres, at: location)
        }
        // Until psql has its id and holds the name (it sleeps after both), however loaded the machine.
        let postgres = try await LocalPostgres.shared.value
        let database = try #require(URL(string: location)?.lastPathComponent)
        for _ in 0..<200 {
            let sleeping = try await postgres.query(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '\(database)' AND wait_event = 'PgSleep'", database: database)
            if sleeping.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let later = Task {
            try await store.enqueue(NewJob(kind: .scan, key: "scan r/a:1@sha256:2", image: "r/a:1", repository: "a", reference: "1"), now: now)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await store.claim(worker: "w", lease: .seconds(30), limit: 2, localSources: false, now: now).isEmpty,
            "a claim took the later job while the earlier was still committing")
        try await earlier.value
        let queued = try await later.value
        let claimed = try await store.claim(worker: "w", lease: .seconds(30), limit: 2, localSources: false, now: now)
        #expect(claimed.count == 1 && claimed.first.map { $0.id < queued.id } == true, "\(claimed)")
    }

    /// Retention: jobs done or dead, delivered notifications, registry events and superseded
    /// scans from before the cutoff go; pending work, what is newer, a name's newest job, and a
    /// name's first scan, two newest scans and the scan its report names stay. A name deleted
    /// from its registry keeps no scan; then the images no scan names go, the inventories no
    /// image names and their matches; an inventory a kept image names stays.
    @Test(arguments: Backend.allCases) func pruningDeletesOnlyWhatNothingReads(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "prune")
        defer { Task { try? await store.close() } }
        let now = Date()
        let old = now.addingTimeInterval(-100 * 86400)
        let cutoff = now.addingTimeInterval(-90 * 86400)
        var keys = 0
        func job(_ image: String, at: Date, kind: Job.Kind = .scan, ending: (Int64) async throws -> Void) async throws -> Int64 {
            keys += 1
            let reference = image.split(separator: ":").last.map(String.init)
            let new = NewJob(kind: kind, key: "job \(keys)", image: image, repository: image.isEmpty ? nil : "r", reference: reference)
            let id = try await store.enqueue(new, now: at).id
            let claimed = try #require(try await store.claim(worker: "w", lease: .seconds(30), now: at))
            #expect(claimed.id == id)
            try await ending(id)
            return id
        }
        let done = { (at: Date) in { (id: Int64) async throws in try await store.complete(id, worker: "w", now: at) } }
        let dead = { (at: Date) in
            { (id: Int64) async throws in
                #expect(try await store.fail(id, worker: "w", error: "refused", retryAfter: .seconds(1), maxAttempts: 1, now: at), "it is dead")
            }
        }
        // A name's old done job goes when a newer job of the name is there; a dead one that is its
        // name's newest stays (the fleet summary counts it a failure); a rescan's goes.
        let doneSuperseded = try await job("r/a:1", at: old, ending: done(old))
        let doneNewest = try await job("r/a:1", at: now, ending: done(now))
        let deadSuperseded = try await job("r/d:1", at: old, ending: dead(old))
        let deadNewest = try await job("r/d:1", at: old.addingTimeInterval(60), ending: dead(old.addingTimeInterval(60)))
        let rescan = try await job("", at: old, kind: .rescan, ending: done(old))
        // A name deleted from its registry (below) loses its newest done job too; a name with a report keeps it.
        let goneJob = try await job("r.example/gone:1", at: old, ending: done(old))
        let reportedJob = try await job("r.example/app:1", at: old, ending: done(old))
        let runningOld = try await job("r/r:1", at: old) { _ in }
        let queuedOld = try await store.enqueue(NewJob(kind: .scan, key: "queued", image: "r/q:1", repository: "r", reference: "1"), now: old).id

        let notifications = ["n-old", "n-new", "n-waiting"].map { OutgoingNotification(deliveryID: $0, url: "http://127.0.0.1:1/hook", body: []) }
        try await store.enqueueNotifications(notifications, now: old)
        try await store.markDelivered("n-old", now: old)
        try await store.markDelivered("n-new", now: now)

        let digest = Digest.sha256(of: Array("manifest".utf8))
        let events = [("e-old", old), ("e-new", now.addingTimeInterval(-10 * 86400))].map {
            RegistryEvent(id: $0.0, action: .push, repository: "team/\($0.0)", tag: "1", digest: digest, mediaType: nil, timestamp: $0.1)
        }
        #expect(try await store.importEvents(events) == 2)

        func scan(_ name: String, at: Date, inventory: Inventory? = nil) async throws {
            let image = ImageRecord(
                manifestDigest: Digest.sha256(of: Array("\(name) \(at)".utf8)), configDigest: Digest.sha256(of: Array(name.utf8)), created: nil,
                platform: nil, layers: [])
            try await store.recordRematches(
                changed: [ScanRecord(name: name, image: image, scannedAt: at, advisoryVersion: "v1", findings: [], inventory: inventory)],
                unchanged: [], advisoryVersion: "v1")
        }
        let hours = { (count: Double) in old.addingTimeInterval(count * 3600) }
        // app: its first scan is also its report's; of the three after it, the oldest goes.
        try await scan("r.example/app:1", at: old)
        try await store.storeReport(Array("{}".utf8), name: "r.example/app:1", repository: "app", tag: "1", manifestDigest: nil, findings: [])
        for hour in 1...3 { try await scan("r.example/app:1", at: hours(Double(hour))) }
        // many: five old scans, no report: the second and third go.
        for hour in 0..<5 { try await scan("r.example/many:1", at: hours(Double(hour))) }
        // one: a single old scan; fresh: an old first scan and two new ones. None goes.
        try await scan("r.example/one:1", at: old)
        try await scan("r.example/fresh:1", at: old)
        try await scan("r.example/fresh:1", at: now.addingTimeInterval(-60))
        try await scan("r.example/fresh:1", at: now)
        // gone: three old scans, one inventory, then deleted from its registry: all of it goes.
        // gone2: deleted too, but its inventory is also a kept name's.
        let goneInventory = Inventory(osNamespace: "gone", entries: [])
        let sharedInventory = Inventory(osNamespace: "shared", entries: [])
        for hour in 0..<3 { try await scan("r.example/gone:1", at: hours(Double(hour)), inventory: goneInventory) }
        try await scan("r.example/shared:1", at: old, inventory: sharedInventory)
        try await scan("r.example/gone2:1", at: old, inventory: sharedInventory)
        // A match stored before its inventory (as the fleet path writes them) is kept.
        try await store.storeMatches(
            [goneInventory.key, sharedInventory.key, "not-yet-stored"].map { InventoryMatch(inventoryKey: $0, generation: 1, findings: []) })
        #expect(try await store.removeImages(["r.example/gone:1", "r.example/gone2:1"]).count == 2)
        // The package names kept for the image search: those of rebuilt's first manifest go (no
        // report is of it any more); twin's first stays (another name's report is of it).
        func listed(_ name: String, _ manifest: String, _ package: String) async throws {
            var listing = ReportListing.findings([], name: name)
            listing.packages = [package]
            try await store.storeReport(
                Array("{}".utf8), name: name, repository: "x", tag: "1", manifestDigest: Digest.sha256(of: Array(manifest.utf8)), listing: listing)
        }
        for (name, manifest, package) in [("rebuilt:1", "a", "pkg-a"), ("rebuilt:1", "b", "pkg-b"), ("twin:1", "c", "pkg-c"), ("twin:2", "c", "pkg-c"),
            ("twin:2", "d", "pkg-d")]
        {
            try await listed("r.example/" + name, manifest, package)
        }
        let before = try await store.counts()

        let pruned = try await store.prune(before: cutoff, eventsBefore: cutoff)
        // Scans: app's one, many's two, gone's three, gone2's one; and each of their images.
        #expect(pruned == PrunedRows(jobs: 4, notifications: 1, events: 1, scans: 7, images: 7, inventories: 1, matches: 1, packageLists: 1))
        for (package, found) in [("pkg-a", []), ("pkg-b", ["r.example/rebuilt:1"]), ("pkg-c", ["r.example/twin:1"]), ("pkg-d", ["r.example/twin:2"])] {
            #expect(try await store.images(ImagesFilter(query: package), after: nil, limit: 10).map(\.name) == found, "\(package)")
        }
        // A listed image says which advisory data its newest scan was matched against (none: no scan).
        let matched = try await store.images(ImagesFilter(), after: nil, limit: 100)
        #expect(matched.first { $0.name == "r.example/app:1" }?.matchedAgainst == "v1", "\(matched.map { "\($0.name) \($0.matchedAgainst ?? "-")" })")
        #expect(matched.first { $0.name == "r.example/twin:1" }.map { $0.matchedAgainst == nil } == true)
        #expect(try await store.counts().images == before.images - 7)
        #expect(try await store.inventory(goneInventory.key) == nil)
        #expect(try await store.storedMatch(goneInventory.key) == nil)
        #expect(try await store.inventory(sharedInventory.key) != nil)
        #expect(try await store.storedMatch(sharedInventory.key) != nil)
        #expect(try await store.storedMatch("not-yet-stored") != nil)
        #expect(try await store.previousScan(name: "r.example/gone:1", before: now) == nil)
        for gone in [doneSuperseded, deadSuperseded, rescan, goneJob] { #expect(try await store.job(gone) == nil, "job \(gone)") }
        for kept in [doneNewest, deadNewest, runningOld, queuedOld, reportedJob] { #expect(try await store.job(kept) != nil, "job \(kept)") }
        let outbox = try await store.notificationCounts()
        #expect(outbox.delivered == 1 && outbox.waiting == 1)
        #expect(try await store.lastEvent(.push, repository: "team/e-old", tag: "1", digest: nil) == nil)
        #expect(try await store.lastEvent(.push, repository: "team/e-new", tag: "1", digest: nil) != nil)
        #expect(try await store.counts().scans == before.scans - 7)
        // What each name's newest scan before a time is now says which scans stayed.
        func newest(_ name: String, before: Date) async throws -> Date? { try await store.previousScan(name: name, before: before)?.scannedAt }
        func near(_ a: Date?, _ b: Date) -> Bool { a.map { abs($0.timeIntervalSince(b)) < 0.01 } ?? false }
        #expect(near(try await newest("r.example/app:1", before: hours(1.5)), old), "app's scan an hour in went")
        #expect(near(try await newest("r.example/app:1", before: hours(2.5)), hours(2)))
        #expect(near(try await newest("r.example/many:1", before: hours(3.5)), hours(3)))
        #expect(near(try await newest("r.example/many:1", before: hours(2.5)), old), "many's second and third went")
        #expect(near(try await newest("r.example/one:1", before: now), old))
        #expect(near(try await newest("r.example/fresh:1", before: now.addingTimeInterval(-120)), old), "fresh's first stays")
        // Nothing left to prune.
        #expect(try await store.prune(before: cutoff, eventsBefore: cutoff).total == 0)
    }

    /// Both back ends give the same advisory data version for the same imports, list what an
    /// import changed, and answer the same matches.
    @Test(arguments: Backend.allCases) func advisoryImportsVersionAndChanges(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "advisories")
        defer { Task { try? await store.close() } }
        let contents = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path)
        #expect(try await store.importAdvisories(contents.records, source: "alpine-v3.7").changed)
        #expect(try await store.importAdvisories(contents.records, source: "alpine-v3.7").changed == false)
        let first = try #require(try await store.advisoryGeneration())
        var edited = contents.records
        let index = try #require(edited.firstIndex { $0.affected?.contains { $0.package?.name == "musl" } == true })
        edited[index].summary = "edited for the test"
        #expect(try await store.importAdvisories(edited, source: "alpine-v3.7").changed)
        let changes = try #require(try await store.advisoryChanges(since: first))
        #expect(changes.packages == [AdvisoryChanges.PackageKey(ecosystem: "Alpine:v3.7", name: "musl")])
        #expect(changes.ids.contains(edited[index].id))
        // The version is the same function of the imports in both back ends.
        let sqlite = try await openStore(try Fixtures.temporaryDirectory("advisories-reference") + "/fathom.db")
        _ = try await sqlite.importAdvisories(edited, source: "alpine-v3.7")
        #expect(try await store.advisoryVersion() == (try await sqlite.advisoryVersion()))
        try await sqlite.close()
        let statistics = try await store.advisoryStatistics()
        #expect(statistics.feeds.map(\.source) == ["alpine-v3.7"] && statistics.feeds.first?.records == contents.records.count)
    }

    /// A PostgreSQL worker keeps the advisory version between imports (it asked for it at every
    /// job), and an import by another process replaces it as soon as its announcement arrives.
    @Test func aWorkerKeepsTheAdvisoryVersionUntilAnImportIsAnnounced() async throws {
        let url = try await LocalPostgres.shared.value.database("versioncache")
        let importer = try await openStore(url)
        let worker = try await PostgresStore.open(url: url)
        defer { Task { try? await worker.close(); try? await importer.close() } }
        func feed(_ version: String) async throws -> FeedContents {
            try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/alpine-secdb/\(version)/main.yaml").path)
        }
        let feeds = [try await feed("v3.10"), try await feed("v3.11")]
        _ = try await importer.importAdvisories(feeds[0].records, source: "alpine")
        let first = try await importer.advisoryVersion()
        // Not listening (no job claimed yet): asked each time, nothing kept.
        #expect(try await worker.advisoryVersionAsAnnounced() == first)
        #expect(worker.advisoryVersions.current() == nil)
        // A claim starts the listening; once it is up, a read is kept.
        _ = try await worker.claim(worker: "w", lease: .seconds(30), limit: 1, localSources: false, now: Date())
        let deadline = ContinuousClock.now + .seconds(10)
        while worker.advisoryVersions.current() == nil, ContinuousClock.now < deadline {
            #expect(try await worker.advisoryVersionAsAnnounced() == first)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(worker.advisoryVersions.current() == first)
        // Another process imports: the worker's next reads give the new version within moments,
        // not after the 30 s a kept version may live.
        _ = try await importer.importAdvisories(feeds[1].records, source: "alpine")
        let second = try await importer.advisoryVersion()
        #expect(second != first)
        let heard = ContinuousClock.now + .seconds(5)
        var seen = try await worker.advisoryVersionAsAnnounced()
        while seen != second, ContinuousClock.now < heard {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await worker.advisoryVersionAsAnnounced()
        }
        #expect(seen == second)
        #expect(worker.advisoryVersions.current() == second)
        // Its own import is known at once; `advisoryVersion()` always asks.
        _ = try await worker.importAdvisories(feeds[0].records, source: "alpine")
        #expect(worker.advisoryVersions.current() == nil)
        #expect(try await worker.advisoryVersionAsAnnounced() == first)
        _ = try await importer.importAdvisories(feeds[1].records, source: "alpine")
        #expect(try await worker.advisoryVersion() == second)
    }

    /// The write path's connections plan each statement once (`plan_cache_mode`); the serve's,
    /// whose API filters depend on their values, keep PostgreSQL's choice.
    @Test func scanProcessesPlanOncePerConnectionAndServeDoesNot() async throws {
        let url = try await LocalPostgres.shared.value.database("plans")
        for (generic, expected) in [(true, "force_generic_plan"), (false, "auto")] {
            let store = try await PostgresStore.open(url: url, genericPlans: generic)
            var mode: String?
            try await store.run("SHOW plan_cache_mode") { mode = try $0.decode(String.self) }
            #expect(mode == expected)
            try await store.close()
        }
        // Through the locator every command opens its store with.
        let store = try #require(try await openStore(url, genericPlans: true) as? PostgresStore)
        var mode: String?
        try await store.run("SHOW plan_cache_mode") { mode = try $0.decode(String.self) }
        #expect(mode == "force_generic_plan")
        try await store.close()
    }

    /// A worker that reads no local sources leaves the jobs naming `oci:` and `oci-archive:`
    /// images queued for one that does, and still takes the registry images queued after them.
    @Test(arguments: Backend.allCases) func localImagesWaitForAWorkerThatReadsThem(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "localclaims")
        defer { Task { try? await store.close() } }
        let now = Date()
        for image in ["oci:mirror/a:1", "oci-archive:mirror/b.tar:1", "registry.example:5000/team/c:1"] {
            _ = try await store.enqueue(NewJob(kind: .scan, key: "scan \(image)", image: image, repository: nil, reference: nil), now: now)
        }
        let plain = try await store.claim(worker: "plain", lease: .seconds(30), limit: 10, localSources: false, now: now)
        #expect(plain.map(\.image) == ["registry.example:5000/team/c:1"])
        let local = try await store.claim(worker: "local", lease: .seconds(30), limit: 10, localSources: true, now: now)
        #expect(local.map(\.image) == ["oci:mirror/a:1", "oci-archive:mirror/b.tar:1"])
    }

    /// A process waiting on another's layer claim is woken when the holder stores the facts or
    /// gives the claim up (PostgreSQL: NOTIFY on the holder's statement), not after its limit;
    /// SQLite, one process, looks again every 100 ms.
    @Test(arguments: Backend.allCases) func layerClaimWaitersAreWokenWhenTheClaimIsGivenUp(_ backend: Backend) async throws {
        let holder: any Store
        let waiter: any Store
        switch backend {
        case .postgres:
            let url = try await LocalPostgres.shared.value.database("layerwakeups")
            (holder, waiter) = (try await openStore(url), try await openStore(url))
        case .sqlite:
            holder = try await Self.open(backend, "layerwakeups")
            waiter = holder
        }
        defer { Task { try? await waiter.close(); try? await holder.close() } }
        // The first wait starts PostgreSQL's listener.
        await waiter.waitForLayer(Digest.sha256(of: Array("nothing".utf8)), since: waiter.layerSignal(), upTo: .milliseconds(500))
        for (number, stores) in [true, false].enumerated() {
            let digest = Digest.sha256(of: Array("waited-for layer \(number)".utf8))
            #expect(try await holder.factsOrClaim(digest, owner: "holder", lease: .seconds(60), now: Date()).claimed)
            let signal = waiter.layerSignal()
            let look = try await waiter.factsOrClaim(digest, owner: "waiter", lease: .seconds(60), now: Date())
            #expect(look.facts == nil && !look.claimed)
            let started = ContinuousClock.now
            let woke = Locked(false)
            let waiting = Task {
                await waiter.waitForLayer(digest, since: signal, upTo: .seconds(30))
                woke.withLock { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(200))
            // Another layer given up wakes no waiter of this one.
            let other = Digest.sha256(of: Array("another layer \(number)".utf8))
            #expect(try await holder.factsOrClaim(other, owner: "holder", lease: .seconds(60), now: Date()).claimed)
            try await holder.releaseLayer(other, owner: "holder")
            try await Task.sleep(for: .milliseconds(300))
            if backend == .postgres { #expect(!woke.withLock { $0 }, "another layer's claim given up woke this one's waiter") }
            if stores {
                let facts = LayerFacts(
                    summary: LayerReadSummary(digest: digest, compression: .gzip, compressedSize: 10, uncompressedSize: 20, entryCount: 1, fileCount: 1),
                    files: [:], whiteouts: [], opaqueDirectories: [], warnings: [])
                try await holder.storeClaimedLayerFacts(facts, for: digest, owner: "holder")
            } else {
                // A failed read gives the claim up without facts.
                try await holder.releaseLayer(digest, owner: "holder")
            }
            await waiting.value
            #expect(ContinuousClock.now - started < .seconds(5), "woken after \(ContinuousClock.now - started)")
            let after = try await waiter.factsOrClaim(digest, owner: "waiter", lease: .seconds(60), now: Date())
            #expect(stores ? after.facts != nil : after.claimed)
        }
    }

    /// A layer is read once across processes: the stored facts, else the claim for one owner;
    /// another owner waits (no facts, no claim) until the holder stores the facts (and its claim
    /// goes with them) or its claim lapses.
    @Test(arguments: Backend.allCases) func aLayerIsClaimedOnceAndItsFactsReleaseTheClaim(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "claims")
        defer { Task { try? await store.close() } }
        let now = Date()
        let digest = Digest.sha256(of: Array("claimed layer".utf8))
        let facts = LayerFacts(
            summary: LayerReadSummary(digest: digest, compression: .gzip, compressedSize: 10, uncompressedSize: 20, entryCount: 1, fileCount: 1),
            files: ["etc/claimed": FileFact(kind: .file, text: "claimed")], whiteouts: [], opaqueDirectories: [], warnings: [])
        let first = try await store.factsOrClaim(digest, owner: "a", lease: .seconds(30), now: now)
        #expect(first.facts == nil && first.claimed)
        let second = try await store.factsOrClaim(digest, owner: "b", lease: .seconds(30), now: now)
        #expect(second.facts == nil && !second.claimed, "another owner's live claim")
        #expect(try await store.factsOrClaim(digest, owner: "a", lease: .seconds(30), now: now).claimed, "the holder renews it")
        try await store.storeClaimedLayerFacts(facts, for: digest, owner: "a")
        let stored = try await store.factsOrClaim(digest, owner: "b", lease: .seconds(30), now: now)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try stored.facts.map { try encoder.encode($0) } == (try encoder.encode(facts)) && !stored.claimed)
        // The claim went with the facts: another owner can claim the digest at once.
        #expect(try await store.claimLayer(digest, owner: "c", lease: .seconds(30), now: now))
        // A lapsed claim is taken over.
        let other = Digest.sha256(of: Array("abandoned layer".utf8))
        #expect(try await store.factsOrClaim(other, owner: "dead", lease: .seconds(1), now: now).claimed)
        #expect(try await store.factsOrClaim(other, owner: "b", lease: .seconds(30), now: now.addingTimeInterval(0.5)).claimed == false)
        #expect(try await store.factsOrClaim(other, owner: "b", lease: .seconds(30), now: now.addingTimeInterval(2)).claimed)
    }

    /// Matches stored together replace the older ones of their inventories; a key given twice
    /// keeps its last match; one written alone does too.
    @Test(arguments: Backend.allCases) func inventoryMatchesAreStoredTogether(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "matches")
        defer { Task { try? await store.close() } }
        func finding(_ id: String) -> Finding {
            Finding(
                id: id, aliases: [], ecosystem: "apk", package: "musl", sourcePackage: "musl", installedVersion: "1.1.18-r3", fixedVersion: "1.1.18-r4",
                status: .fixed, severity: .high, severitySource: nil, cvss: [], layerIndex: 0, path: "lib/apk/db/installed", source: "test",
                title: nil, references: [], arch: "x86_64")
        }
        try await store.storeMatches([InventoryMatch(inventoryKey: "b", generation: 1, findings: [finding("CVE-1")])])
        try await store.storeMatches([
            InventoryMatch(inventoryKey: "b", generation: 2, findings: [finding("CVE-2")]),
            InventoryMatch(inventoryKey: "a", generation: 2, findings: []),
            InventoryMatch(inventoryKey: "b", generation: 3, findings: [finding("CVE-3"), finding("CVE-4")]),
        ])
        let b = try #require(try await store.storedMatch("b"))
        #expect(b.generation == 3 && b.findings.map(\.id) == ["CVE-3", "CVE-4"])
        let a = try #require(try await store.storedMatch("a"))
        #expect(a.generation == 2 && a.findings.isEmpty)
        #expect(try await store.storedMatch("c") == nil)
        try await store.storeMatches([InventoryMatch(inventoryKey: "a", generation: 4, findings: [finding("CVE-5")])])
        #expect(try await store.storedMatch("a")?.findings.map(\.id) == ["CVE-5"])
    }

    /// The live (not withdrawn) advisories are counted when imported, and a store made before
    /// that count existed gets it when it is opened (the migration counts each import's records).
    @Test(arguments: Backend.allCases) func liveAdvisoriesAreCountedAtImportAndOnUpgrade(_ backend: Backend) async throws {
        let location = try await Self.location(backend, "livecount")
        var records = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path).records
        records[0].withdrawn = "2026-01-01T00:00:00Z"
        records[1].withdrawn = "2026-01-01T00:00:00Z"
        // A withdrawn record names no package to match: its Maven group is no group of the artifact.
        let withdrawnMaven = #"{"id":"GHSA-TEST-0000","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"org.old:withdrawn-lib"}}]}"#
        let store = try await openStore(location)
        _ = try await store.importAdvisories(records, source: "alpine-v3.7")
        _ = try await store.importAdvisories(Array(records.prefix(5)) + [try AdvisoryImport.osv(Array(withdrawnMaven.utf8), file: "w.json")], source: "other")
        let live = records.count - 2 + 3
        #expect(try await store.advisories().recordCount == live)
        #expect(try await store.advisories().mavenNames(ofArtifact: "withdrawn-lib").isEmpty)
        try await store.close()
        // The store as the version before the count: the column gone, its migration and the
        // findings listing's after it not applied; the withdrawn record's package row as imports
        // wrote it then.
        let downgrade = "INSERT INTO advisory_packages (source, id, ecosystem, name) VALUES ('other', 'GHSA-TEST-0000', 'Maven', 'org.old:withdrawn-lib'); "
            + Self.undoFleetRows
            + "DROP TABLE report_findings; DROP TABLE report_finding_keys; DROP INDEX reports_unlisted; ALTER TABLE reports DROP COLUMN findings_listed; "
            + "ALTER TABLE imports DROP COLUMN live_records; DELETE FROM schema_version WHERE version >= (SELECT MAX(version) - \(2 + Self.migrationsAfterFleetRows(backend)) FROM schema_version)"
        try await Self.sql(downgrade, backend, at: location)
        let upgraded = try await openStore(location)
        defer { Task { try? await upgraded.close() } }
        #expect(try await upgraded.advisories().recordCount == live)
        #expect(try await upgraded.advisories().mavenNames(ofArtifact: "withdrawn-lib").isEmpty, "the upgrade drops a withdrawn record's rows")
    }

    /// A server that does not answer is an error that names it, after the connect timeout, not a hang.
    @Test func anUnreachablePostgreSQLIsAnErrorNotAHang() async throws {
        // Nothing listens: refused, at once.
        let port = try freePort()
        var started = ContinuousClock.now
        do {
            _ = try await PostgresStore.open(url: "postgres://fathom:pw@127.0.0.1:\(port)/x?sslmode=disable", connectTimeout: .seconds(2))
            Issue.record("opened a store on a port nothing listens on")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(port): connection refused"), "\(error)")
            #expect(!"\(error)".contains(":pw@"), "the password is in the message: \(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        // A socket that takes the connection and never answers: the connect timeout, named.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0 && listen(silent, 8) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &length) } }
        let silentPort = Int(UInt16(bigEndian: address.sin_port))
        started = ContinuousClock.now
        do {
            _ = try await PostgresStore.open(url: "postgres://fathom:pw@127.0.0.1:\(silentPort)/x?sslmode=disable", connectTimeout: .seconds(2))
            Issue.record("opened a store on a socket that never answers")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(silentPort): did not answer within 2"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    /// A pull made by fathom's own scan is not a user's pull (it would keep every scanned image
    /// in the rescan window); pulls by anyone else are kept.
    @Test func fathomsOwnPullsAreNotEvents() throws {
        func event(_ id: String, _ agent: String) -> String {
            #"{"id": "\#(id)", "timestamp": "2026-11-29T10:00:00.5Z", "action": "pull", "target": {"repository": "team/app", "tag": "1"}, "request": {"host": "r", "useragent": "\#(agent)"}}"#
        }
        let envelope = #"{"events": ["# + event("a", "fathom/0.1.0 (scan 1f2e)") + "," + event("b", "skopeo/1.9.3") + "]}"
        let events = try RegistryEvent.decode(Array(envelope.utf8), file: "test")
        #expect(events.map(\.id) == ["b"])
    }

    /// The fleet view's layer rows a replaced report alone had go; those another image's chain
    /// goes through stay, and the summary's view is the same as before but for them.
    @Test(arguments: Backend.allCases) func pruningTakesTheLayerRowsNoImageHas(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "lineage")
        defer { Task { try? await store.close() } }
        func report(_ name: String, _ layers: [String], findings: [String: [String]] = [:]) async throws {
            var listing = ReportListing.findings([], name: name)
            var parent: String?
            for (index, layer) in layers.enumerated() {
                let key = (parent.map { $0 + "/" } ?? "") + layer
                listing.prefixes.append(LayerPrefix(key: key, parent: parent, layer: layer, depth: index + 1, size: 10))
                listing.layerFindings[layer] = findings[layer] ?? []
                parent = key
            }
            listing.image.chain = parent
            listing.image.layers = layers.count
            try await store.storeReport(Array("{}".utf8), name: name, repository: "x", tag: "1", manifestDigest: nil, listing: listing)
        }
        // b's chain is four deep: its two middle prefixes are kept only by walking up from it.
        try await report("r.example/a:1", ["base", "a1"], findings: ["a1": ["CVE-1 p 1 HIGH"]])
        try await report("r.example/b:1", ["base", "m1", "m2", "b1"])
        try await report("r.example/a:1", ["base", "a2"])
        let pruned = try await store.prune(before: Date(timeIntervalSince1970: 0), eventsBefore: Date(timeIntervalSince1970: 0))
        // a1's prefix, its chain and its layer's findings.
        #expect(pruned.lineage == 3, "\(pruned)")
        let view = try await store.fleetView(top: 10)
        #expect(Set(view.prefixes.map(\.key)) == ["base", "base/m1", "base/m1/m2", "base/m1/m2/b1", "base/a2"])
        #expect(Set(view.chains.keys) == ["base/m1/m2/b1", "base/a2"])
        #expect(Set(view.layerFindings.keys) == ["base", "m1", "m2", "b1", "a2"])
        #expect(try await store.prune(before: Date(timeIntervalSince1970: 0), eventsBefore: Date(timeIntervalSince1970: 0)).total == 0)
        // A chain pruned away comes back whole with the next image on it, counted from zero.
        try await report("r.example/c:1", ["base", "a1"], findings: ["a1": ["CVE-1 p 1 HIGH"]])
        let again = try await store.fleetView(top: 10)
        #expect(Set(again.prefixes.map(\.key)) == ["base", "base/m1", "base/m1/m2", "base/m1/m2/b1", "base/a2", "base/a1"])
        #expect(again.layerFindings["a1"] == ["CVE-1 p 1 HIGH"])
        #expect(again.chains["base/a1"]?.images == 1)
    }

    /// A layer's findings come from the reports of every image built on it: an image that
    /// upgraded or removed a package above the layer says nothing of the layer's own, so the
    /// layer keeps them; one that still has the package from the layer speaks for it.
    @Test(arguments: Backend.allCases) func aLayersFindingsOutliveAnImageThatUpgradedItsPackage(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "layers")
        defer { Task { try? await store.close() } }
        func report(_ name: String, _ layers: [(digest: String, findings: [String], packages: [String])], lifecycle: String? = nil) async throws {
            var listing = ReportListing.findings([], name: name)
            listing.image.missing = ["no advisory data for PyPI"] + (lifecycle.map { [$0] } ?? [])
            listing.lowestFindingDepth = layers.firstIndex { !$0.findings.isEmpty }.map { $0 + 1 }
            var parent: String?
            for (index, layer) in layers.enumerated() {
                let key = (parent.map { $0 + "/" } ?? "") + layer.digest
                listing.prefixes.append(LayerPrefix(key: key, parent: parent, layer: layer.digest, depth: index + 1, size: 10))
                listing.layerFindings[layer.digest] = layer.findings
                listing.layerPackages[layer.digest] = layer.packages
                parent = key
            }
            listing.image.chain = parent
            listing.image.layers = layers.count
            try await store.storeReport(Array("{}".utf8), name: name, repository: "x", tag: "1", manifestDigest: nil, listing: listing)
        }
        let musl = "ALPINE-CVE-1 musl 1.1.18-r3 HIGH"
        let busybox = "ALPINE-CVE-2 busybox 1.27.2-r11 LOW"
        try await report("r.example/app-a:1", [("base", [musl, busybox], ["busybox", "musl", "zlib"]), ("a", [], [])])
        // app-d upgraded musl and removed busybox in its own layer: the base's findings stay.
        try await report("r.example/app-d:1", [("base", [], ["zlib"]), ("d", [], ["musl"])])
        #expect(try await store.fleetView(top: 10).layerFindings["base"] == [musl, busybox].sorted())
        // Which bases each chain's images carry findings of: app-a the base's, app-d none.
        let chains = try await store.fleetView(top: 10).chains
        #expect(chains["base/a"]?.lowestFindingDepth == 1 && chains["base/d"]?.lowestFindingDepth == 0, "\(chains)")
        // The base itself, scanned after musl's advisory was withdrawn, speaks for every package it has.
        let ended = FleetLifecycle.entry(release: "Alpine:v3.7", date: "2019-11-01")
        try await report("r.example/base:1", [("base", [busybox], ["busybox", "musl", "zlib"])], lifecycle: ended)
        #expect(try await store.fleetView(top: 10).layerFindings["base"] == [busybox])
        // A chain's release, for advice that would move images onto a release past its end:
        // its first name's (the CLI's rule too), whether or not a later one's report says it.
        try await report("r.example/other:a", [("other", [], [])])
        try await report("r.example/other:b", [("other", [], [])], lifecycle: ended)
        try await report("r.example/third:a", [("third", [], [])], lifecycle: ended)
        try await report("r.example/third:b", [("third", [], [])])
        let lifecycles = try await store.fleetView(top: 10).chains.mapValues(\.lifecycle)
        #expect(lifecycles == ["base": ended, "base/a": nil, "base/d": nil, "other": nil, "third": ended], "\(lifecycles)")
        // What an image lists of the packages it has from a layer replaces what was stored.
        try await report("r.example/app-d:1", [("base", [], ["zlib"]), ("d", ["ALPINE-CVE-3 musl 1.1.18-r4 LOW"], ["musl"])])
        #expect(try await store.fleetView(top: 10).layerFindings["d"] == ["ALPINE-CVE-3 musl 1.1.18-r4 LOW"])
        try await report("r.example/app-d:1", [("base", [], ["zlib"]), ("d", [], ["musl"])])
        #expect(try await store.fleetView(top: 10).layerFindings["d"] == [])
        // A name listed again on the same chain, its counts unmoved, records its new depth.
        try await report("r.example/app-a:1", [("base", [], ["busybox", "musl", "zlib"]), ("a", [], [])])
        let relisted = try await store.fleetView(top: 10).chains["base/a"]
        #expect(relisted?.images == 1 && relisted?.lowestFindingDepth == 0, "\(String(describing: relisted))")
    }

    /// A scan of another manifest stored after a name's report (by the CLI, or a job that ended
    /// before its report) puts the report behind; a re-match of the same manifest does not, and
    /// a name with a job pending is left to that job.
    @Test(arguments: Backend.allCases) func reportsBehindTheirNewestScanAreFound(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "behind")
        defer { Task { try? await store.close() } }
        let (first, second) = (Digest.sha256(of: Array("first".utf8)), Digest.sha256(of: Array("second".utf8)))
        func scan(_ name: String, _ manifest: Digest) async throws {
            let image = ImageRecord(manifestDigest: manifest, configDigest: Digest.sha256(of: Array(name.utf8)), created: nil, platform: nil, layers: [])
            try await store.recordRematches(
                changed: [ScanRecord(name: name, image: image, scannedAt: Date(), advisoryVersion: "v1", findings: [])], unchanged: [],
                advisoryVersion: "v1")
        }
        func report(_ name: String, _ manifest: Digest) async throws {
            try await store.storeReport(Array("{}".utf8), name: name, repository: "app", tag: "1", manifestDigest: manifest, findings: [])
        }
        for name in ["r.example/moved:1", "r.example/rematched:1", "r.example/pending:1"] {
            try await scan(name, first)
            try await report(name, first)
        }
        try await scan("r.example/moved:1", second)
        try await scan("r.example/pending:1", second)
        _ = try await store.enqueue(NewJob(kind: .scan, key: "scan r.example/pending:1", image: "r.example/pending:1", repository: "pending", reference: "1"), now: Date())
        try await scan("r.example/rematched:1", first)
        try await scan("r.example/unreported:1", first)
        let behind = try await store.reportsBehindScans(limit: 10)
        #expect(behind.map(\.name) == ["r.example/moved:1"])
        #expect(behind.map(\.manifestDigest) == [second])
        #expect(behind.allSatisfy { abs($0.scannedAt.timeIntervalSinceNow) < 60 }, "\(behind)")
        try await report("r.example/moved:1", second)
        #expect(try await store.reportsBehindScans(limit: 10).isEmpty)
        // The job's key is read back with it (a rescan compares it with the key it would queue).
        let (id, _) = try await store.enqueue(NewJob(kind: .scan, key: "scan r.example/moved:1@\(second)", image: "r.example/moved:1", repository: "moved", reference: "1"), now: Date())
        #expect(try await store.job(id)?.key == "scan r.example/moved:1@\(second)")
    }

    /// A job keeps what it carries (a request's policy, a Harbor scan's sealed access) from
    /// queue to claim; an image's reports answer per registry, newest first.
    @Test(arguments: Backend.allCases) func jobsKeepTheirPayloadAndReportsTheirRegistry(_ backend: Backend) async throws {
        let store = try await Self.open(backend, "payload")
        defer { Task { try? await store.close() } }
        let payload = #"{"policy":{"severity":["CRITICAL"]}}"#
        let (id, _) = try await store.enqueue(
            NewJob(kind: .harbor, key: "harbor r/a@sha256:1", image: "r/a:1", repository: "a", reference: "sha256:1", payload: payload), now: Date())
        let claimed = try #require(try await store.claim(worker: "w", lease: .seconds(30), now: Date()))
        #expect(claimed.id == id && claimed.kind == .harbor && claimed.payload == payload)
        #expect(try await store.job(id)?.payload == payload)
        try await store.complete(id, worker: "w", now: Date())
        #expect(try await store.job(id)?.payload == payload, "a payload without a secret is kept as written")
        // A sealed secret in a payload stays while the job may run again, and is dropped when it
        // ends, done or dead; the rest of the payload stays.
        // (A NUL in the payload's text, as JSONEncoder writes one, does not keep the job from ending.)
        let secret = #"{"mimeType":"m\u0000","sealedAuthorization":"c2Vh\/bGVk"}"#
        for (index, ending) in ["done", "dead"].enumerated() {
            let (harbor, _) = try await store.enqueue(
                NewJob(kind: .harbor, key: "harbor r/b@sha256:\(index)", image: "r/b:1", repository: "b", reference: "sha256:\(index)", payload: secret),
                now: Date())
            #expect(try await store.claim(worker: "w", lease: .seconds(30), now: Date())?.id == harbor)
            if ending == "done" {
                try await store.complete(harbor, worker: "w", now: Date())
            } else {
                try await store.fail(harbor, worker: "w", error: "refused", retryAfter: .zero, maxAttempts: 2, now: Date())
                #expect(try await store.job(harbor)?.payload == secret, "queued again, the job still needs its secret")
                #expect(try await store.claim(worker: "w", lease: .seconds(30), now: Date())?.id == harbor)
                try await store.fail(harbor, worker: "w", error: "refused", retryAfter: .zero, maxAttempts: 2, now: Date())
            }
            let ended = try #require(try await store.job(harbor))
            #expect(ended.state.rawValue == ending)
            let text = try #require(ended.payload)
            let kept = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
            #expect(kept == ["mimeType": "m\u{0}"], "\(ending): \(kept)")
        }

        for (host, body) in [("one.example", "first"), ("two.example:5000", "second")] {
            try await store.storeReport(
                Array(body.utf8), name: "\(host)/team/app:1", repository: "team/app", tag: "1", manifestDigest: nil, findings: [])
        }
        let reports = try await store.reports(repository: "team/app", reference: "1")
        #expect(Set(reports.map(\.name)) == ["one.example/team/app:1", "two.example:5000/team/app:1"])
        #expect(try await store.reports(repository: "team/other", reference: "1").isEmpty)
    }

    /// PostgreSQL stores large values (reports, layer facts, inventories) compressed with lz4,
    /// where the server has it (Debian's has), and a stored report reads back whole.
    @Test func postgresCompressesLargeValuesWithLZ4() async throws {
        let postgres = try await LocalPostgres.shared.value
        let location = try await postgres.database("lz4")
        let store = try await openStore(location)
        defer { Task { try? await store.close() } }
        let database = try #require(URL(string: location)?.lastPathComponent)
        let methods = try await postgres.query(
            "SELECT attrelid::regclass || '.' || attname || '=' || attcompression::TEXT FROM pg_attribute "
                + "WHERE (attrelid, attname) IN (('reports'::regclass, 'document'), ('layer_facts'::regclass, 'facts'), "
                + "('inventories'::regclass, 'inventory'), ('scans'::regclass, 'findings')) ORDER BY 1",
            database: database)
        #expect(methods.split(separator: "\n") == ["inventories.inventory=l", "layer_facts.facts=l", "reports.document=l", "scans.findings=l"])
        // A document large enough to be compressed (a TOAST value) is stored with lz4 and reads back as written.
        let document = Array((0..<4_000).map { "{\"line\": \($0)}\n" }.joined().utf8)
        try await store.storeReport(
            document, name: "r.example/app:1", repository: "app", tag: "1", manifestDigest: nil, findings: [])
        #expect(try await store.report(name: "r.example/app:1") == document)
        #expect(try await postgres.query("SELECT pg_column_compression(document) FROM reports", database: database) == "lz4")
    }

    /// A server that answers at once but whose migrations take longer than the connect timeout
    /// (here: another process holds the migration lock, `PostgresStore.migrationLock`, for 20 s)
    /// is waited for, not named as one that "did not answer".
    @Test func slowMigrationsAreNotATimeout() async throws {
        let postgres = try await LocalPostgres.shared.value
        let location = try await postgres.database("slowmigration")
        let database = try #require(URL(string: location)?.lastPathComponent)
        let holder = Task {
            try await postgres.query("SELECT pg_advisory_lock(\(0x6661_7468_6f6d)), pg_sleep(20)", database: database)
        }
        // The holder has the lock before the store is opened.
        let deadline = Date().addingTimeInterval(30)
        while try await postgres.query("SELECT count(*) FROM pg_locks "
                + "WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", database: database) != "1" {
            try #require(Date() < deadline, "the lock holder never got the lock")
            try await Task.sleep(for: .milliseconds(50))
        }
        let started = ContinuousClock.now
        let store = try await openStore(location + "&connect_timeout=8")
        defer { Task { try? await store.close() } }
        #expect(ContinuousClock.now - started > .seconds(10), "the store opened without waiting for the lock")
        _ = try await holder.value
        #expect(try await store.report(name: "r.example/none:1") == nil)
    }

    /// The dashboard's trend is the listed reports' totals at the end of each day, read from a
    /// row per day (not from every scan): the last point is the fleet view's sums; an earlier
    /// day keeps its own; a store from before the trend starts it with its totals.
    @Test(arguments: Backend.allCases) func theTrendIsTheTotalsAtEachDaysEnd(_ backend: Backend) async throws {
        let location = try await Self.location(backend, "trend")
        func raw(_ sql: String) async throws { try await Self.sql(sql, backend, at: location) }
        func finding(_ id: String, _ severity: String) -> ReportFinding {
            ReportFinding(id: id, aliases: [], package: "lib", installedVersion: "1.0", fixedVersion: nil, severity: severity, status: "affected")
        }
        func store(_ store: any Store, _ name: String, _ findings: [ReportFinding]) async throws {
            try await store.storeReport(Array(name.utf8), name: name, repository: "x", tag: "1", manifestDigest: nil, findings: findings)
        }
        func point(_ view: FleetView) -> (images: Int, findings: Int, bySeverity: [String: Int]) {
            let bySeverity = view.bySeverity.filter { $0.value > 0 }
            return (view.images, bySeverity.values.reduce(0, +), bySeverity)
        }
        let today = TrendBuilder.day(of: Date())
        let first = try await openStore(location)
        #expect(try await first.fleetTrend().isEmpty)
        try await store(first, "r.example/a:1", [finding("CVE-1", "HIGH"), finding("CVE-2", "LOW")])
        try await store(first, "r.example/b:1", [finding("CVE-1", "HIGH")])
        var trend = try await first.fleetTrend()
        #expect(trend.map(\.day) == [today])
        #expect(trend.last.map { ($0.images, $0.findings, $0.bySeverity) } ?? (0, 0, [:]) == point(try await first.fleetView(top: 1)))
        #expect(trend.last?.images == 2 && trend.last?.bySeverity == ["HIGH": 2, "LOW": 1])
        // Those moves made on an earlier day; today a replacement and a new image move the totals on.
        try await first.close()
        try await raw("UPDATE fleet_days SET day = '2000-01-02'")
        let second = try await openStore(location)
        try await store(second, "r.example/a:1", [])
        try await store(second, "r.example/c:1", [finding("CVE-3", "CRITICAL")])
        trend = try await second.fleetTrend()
        #expect(trend.map(\.day) == ["2000-01-02", today])
        #expect(trend.first?.images == 2 && trend.first?.bySeverity == ["HIGH": 2, "LOW": 1])
        #expect(trend.last?.images == 3 && trend.last?.findings == 2 && trend.last?.bySeverity == ["HIGH": 1, "CRITICAL": 1])
        #expect(trend.last.map { ($0.images, $0.findings, $0.bySeverity) } ?? (0, 0, [:]) == point(try await second.fleetView(top: 1)))
        // A writer that keeps no days (an earlier fathom during an upgrade) moves the totals: the
        // newest point is still the fleet's sums, only the earlier ones shift.
        try await second.close()
        try await raw("UPDATE fleet_totals SET images = images + 1, low = low + 2 WHERE shard = (SELECT MIN(shard) FROM fleet_totals)")
        let third = try await openStore(location)
        trend = try await third.fleetTrend()
        #expect(trend.last?.images == 4 && trend.last?.bySeverity == ["HIGH": 1, "CRITICAL": 1, "LOW": 2])
        #expect(trend.last.map { ($0.images, $0.findings, $0.bySeverity) } ?? (0, 0, [:]) == point(try await third.fleetView(top: 1)))
        try await third.close()
        // A store from before the trend: its totals are the first point, on the day it is upgraded.
        // (The trend's migration and those after it: the jobs', retention's indexes, withdrawn
        // records' rows, the chains' lowest findings.)
        try await raw(
            "DROP TABLE fleet_days; ALTER TABLE jobs DROP COLUMN started_at; ALTER TABLE fleet_chains DROP COLUMN lowest_finding_depth; "
                + "DELETE FROM schema_version WHERE version >= (SELECT MAX(version) - 4 FROM schema_version)")
        let upgraded = try await openStore(location)
        defer { Task { try? await upgraded.close() } }
        trend = try await upgraded.fleetTrend()
        #expect(trend.map(\.day) == [today])
        #expect(trend.last.map { ($0.images, $0.findings, $0.bySeverity) } ?? (0, 0, [:]) == point(try await upgraded.fleetView(top: 1)))
    }

    /// A store location of its own, for a test that also reaches into the database.
    static func location(_ backend: Backend, _ name: String) async throws -> String {
        switch backend {
        case .sqlite: try Fixtures.temporaryDirectory(name) + "/fathom.db"
        case .postgres: try await LocalPostgres.shared.value.database(name)
        }
    }

    /// Runs `sql` on the store at `location` with the database's own client.
    static func sql(_ sql: String, _ backend: Backend, at location: String) async throws {
        switch backend {
        case .sqlite: try await Tool.sqlite(location, sql)
        case .postgres: try await LocalPostgres.shared.value.sql(sql, database: try #require(URL(string: location)?.lastPathComponent))
        }
    }

    /// The migrations after the fleet's rows (PostgreSQL's lz4 compression, the images' readings,
    /// the trend's days, the pending jobs by image, the indexes retention reaches images and
    /// inventories through, withdrawn records' package rows), applied again with them.
    static func migrationsAfterFleetRows(_ backend: Backend) -> Int { backend == .postgres ? 7 : 6 }

    /// Undoes the fleet's rows' migration and those after it, for tests of the migrations before it.
    static let undoFleetRows =
        "ALTER TABLE jobs DROP COLUMN started_at; DROP TABLE fleet_days; ALTER TABLE images DROP COLUMN reading; DROP TABLE fleet_prefixes; DROP TABLE fleet_layer_findings; DROP TABLE fleet_vulnerabilities; DROP TABLE image_packages; "
        + "DROP TABLE fleet_totals; DROP TABLE fleet_gaps; DROP TABLE fleet_chains; DROP TABLE fleet_keys; DROP INDEX reports_by_chain; DROP INDEX reports_most_at_risk; "
        + "DROP INDEX IF EXISTS reports_in_byte_order; DROP INDEX reports_by_manifest; DROP INDEX reports_uncounted; "
        + ["os", "critical", "high", "medium", "low", "unknown", "findings", "fixable", "new_findings", "resolved", "exploited", "layers", "bytes",
           "chain", "fully_checked", "missing", "counted"].map { "ALTER TABLE reports DROP COLUMN \($0); " }.joined()

    /// The newest reports' findings are listed from rows beside them: by id or alias, severity
    /// and fixability, in name (byte) order then report order, a page after a finding, with the
    /// totals of the whole listing; a new report of a name replaces its findings; a report
    /// stored before the listing existed is listed once, and only while it is still the name's.
    @Test(arguments: Backend.allCases) func reportFindingsAreListedFromRows(_ backend: Backend) async throws {
        let location = try await Self.location(backend, "listing")
        let store = try await openStore(location)
        func finding(_ id: String, _ aliases: [String], _ package: String, fixed: String?, _ severity: String) -> ReportFinding {
            ReportFinding(id: id, aliases: aliases, package: package, installedVersion: "1.0", fixedVersion: fixed, severity: severity, status: fixed == nil ? "affected" : "fixed")
        }
        let shared = finding("GHSA-aaaa", ["CVE-2026-1", "CVE-2026-1"], "lib", fixed: "1.1", "HIGH")
        // "Z" sorts before "a" in byte order (not in most locales).
        let images: [(String, [ReportFinding])] = [
            ("r.example/app:1", [shared, finding("CVE-2026-2", [], "zlib", fixed: nil, "LOW")]),
            ("r.example/Zeta:1", [finding("CVE-2026-3", [], "musl", fixed: "2", "CRITICAL"), shared]),
            ("r.example/b:1", []),
        ]
        for (name, findings) in images {
            try await store.storeReport(
                Array(name.utf8), name: name, repository: "x", tag: "1", manifestDigest: try Digest(parsing: "sha256:" + String(repeating: "a", count: 64)),
                findings: findings)
        }
        func lines(_ page: FindingsPage) -> [String] { page.findings.map { "\($0.image) \($0.ordinal) \($0.finding.id)" } }
        let all = try await store.findings(FindingsFilter(), after: nil, limit: 100)
        #expect(lines(all) == ["r.example/Zeta:1 0 CVE-2026-3", "r.example/Zeta:1 1 GHSA-aaaa", "r.example/app:1 0 GHSA-aaaa", "r.example/app:1 1 CVE-2026-2"])
        #expect(all.count == 4 && all.images == 2 && !all.more)
        #expect(all.findings[1].finding == shared && all.findings[1].manifestDigest == "sha256:" + String(repeating: "a", count: 64))
        // By alias: each finding once, though the alias is given twice.
        let byAlias = try await store.findings(FindingsFilter(id: "CVE-2026-1"), after: nil, limit: 1)
        #expect(lines(byAlias) == ["r.example/Zeta:1 1 GHSA-aaaa"] && byAlias.more && byAlias.count == 2 && byAlias.images == 2)
        let second = try await store.findings(FindingsFilter(id: "CVE-2026-1"), after: ("r.example/Zeta:1", 1), limit: 1)
        #expect(lines(second) == ["r.example/app:1 0 GHSA-aaaa"] && !second.more && second.count == 2)
        #expect(lines(try await store.findings(FindingsFilter(id: "GHSA-aaaa", severities: ["LOW"]), after: nil, limit: 10)).isEmpty)
        #expect(try await store.findings(FindingsFilter(id: "CVE-2026-1", severities: ["HIGH"], fixable: true), after: nil, limit: 10).count == 2)
        #expect(try await store.findings(FindingsFilter(id: "CVE-2026-1", fixable: false), after: nil, limit: 10).count == 0)
        let unfixedByID = try await store.findings(FindingsFilter(id: "CVE-2026-2", fixable: false), after: nil, limit: 10)
        #expect(lines(unfixedByID) == ["r.example/app:1 1 CVE-2026-2"] && unfixedByID.count == 1 && unfixedByID.images == 1)
        #expect(lines(try await store.findings(FindingsFilter(severities: ["LOW", "CRITICAL"]), after: nil, limit: 10)) == [
            "r.example/Zeta:1 0 CVE-2026-3", "r.example/app:1 1 CVE-2026-2",
        ])
        let unfixed = try await store.findings(FindingsFilter(fixable: false), after: nil, limit: 10)
        #expect(lines(unfixed) == ["r.example/app:1 1 CVE-2026-2"] && unfixed.findings[0].finding.fixedVersion == nil)
        #expect(try await store.findings(FindingsFilter(fixable: true), after: nil, limit: 10).count == 3)
        #expect(try await store.findings(FindingsFilter(id: "CVE-0000-0"), after: nil, limit: 10).count == 0)
        // An id or alias in any case: the fleet's own spelling is found.
        let anyCase = try await store.findings(FindingsFilter(id: "cve-2026-1"), after: nil, limit: 10)
        #expect(anyCase.count == 2 && anyCase.images == 2 && anyCase.findings.first?.finding.id == "GHSA-aaaa")
        #expect(try await store.images(ImagesFilter(query: "Cve-2026-1"), after: nil, limit: 10).map(\.name) == ["r.example/Zeta:1", "r.example/app:1"])
        #expect(try await store.images(ImagesFilter(query: "ghsa-AAAA"), after: nil, limit: 10).count == 2)
        #expect(try await store.images(ImagesFilter(severities: ["CRITICAL"]), after: nil, limit: 10).map(\.name) == ["r.example/Zeta:1"])
        #expect(try await store.images(ImagesFilter(), after: "r.example/Zeta:1", limit: 1).map(\.name) == ["r.example/app:1"])
        // The fleet's view: images per vulnerability, the worst images first.
        func widespread() async throws -> [String] { try await store.fleetView(top: 10).widespread.map { "\($0.id) \($0.images) \($0.packages)" } }
        #expect(try await widespread() == [#"GHSA-aaaa 2 ["lib"]"#, #"CVE-2026-3 1 ["musl"]"#, #"CVE-2026-2 1 ["zlib"]"#])
        let view = try await store.fleetView(top: 2)
        #expect(view.images == 3 && view.bySeverity == ["CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "LOW": 1, "UNKNOWN": 0])
        #expect(view.mostAtRisk.map(\.name) == ["r.example/Zeta:1", "r.example/app:1"] && view.mostAtRisk[0].bySeverity == ["CRITICAL": 1, "HIGH": 1])
        // A new report of a name replaces its findings, and moves the counts of what it gained and lost.
        try await store.storeReport(Array("new".utf8), name: "r.example/app:1", repository: "x", tag: "1", manifestDigest: nil, findings: [])
        #expect(try await widespread() == [#"CVE-2026-3 1 ["musl"]"#, #"GHSA-aaaa 1 ["lib"]"#])
        let byAliasAfter = try await store.findings(FindingsFilter(id: "CVE-2026-1"), after: nil, limit: 10)
        #expect(byAliasAfter.count == 1 && byAliasAfter.images == 1 && lines(byAliasAfter) == ["r.example/Zeta:1 1 GHSA-aaaa"], "an id's counts move")
        try await store.storeReport(
            Array("again".utf8), name: "r.example/b:1", repository: "x", tag: "1", manifestDigest: nil,
            findings: [finding("GHSA-aaaa", [], "lib2", fixed: nil, "CRITICAL")])
        #expect(try await widespread() == [#"GHSA-aaaa 2 ["lib", "lib2"]"#, #"CVE-2026-3 1 ["musl"]"#])
        #expect(try await store.fleetView(top: 10).widespread.first?.severity == "CRITICAL", "as the newest report says")
        try await store.storeReport(Array("none".utf8), name: "r.example/b:1", repository: "x", tag: "1", manifestDigest: nil, findings: [])
        let moved = try await store.fleetView(top: 1)
        #expect(moved.images == 3 && moved.bySeverity == ["CRITICAL": 1, "HIGH": 1, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0], "the sums follow the replacements")
        #expect(moved.mostAtRisk.map(\.name) == ["r.example/Zeta:1"])
        #expect(lines(try await store.findings(FindingsFilter(), after: nil, limit: 10)) == ["r.example/Zeta:1 0 CVE-2026-3", "r.example/Zeta:1 1 GHSA-aaaa"])
        #expect(try await store.unlistedReports(limit: 10).isEmpty)
        try await store.close()

        // The store as before the listing: its tables gone, the migration not applied. Opening
        // it applies the migration, and its reports wait to be listed.
        let downgrade = Self.undoFleetRows
            + "DROP TABLE report_findings; DROP TABLE report_finding_keys; DROP INDEX reports_unlisted; ALTER TABLE reports DROP COLUMN findings_listed; "
            + "DELETE FROM schema_version WHERE version >= (SELECT MAX(version) - \(1 + Self.migrationsAfterFleetRows(backend)) FROM schema_version)"
        try await Self.sql(downgrade, backend, at: location)
        let upgraded = try await openStore(location)
        defer { Task { try? await upgraded.close() } }
        #expect(try await upgraded.findings(FindingsFilter(), after: nil, limit: 10).count == 0)
        let unlisted = try await upgraded.unlistedReports(limit: 10)
        #expect(unlisted.map(\.name) == ["r.example/Zeta:1", "r.example/app:1", "r.example/b:1"].sorted())
        // Listed from what was read, unless the report changed meanwhile.
        try await upgraded.listFindings(name: "r.example/app:1", document: Array("stale".utf8), findings: [shared])
        try await upgraded.listFindings(name: "r.example/app:1", document: Array("new".utf8), findings: [shared])
        try await upgraded.listFindings(name: "r.example/app:1", document: Array("new".utf8), findings: [shared, shared])
        #expect(lines(try await upgraded.findings(FindingsFilter(), after: nil, limit: 10)) == ["r.example/app:1 0 GHSA-aaaa"])
        #expect(try await upgraded.unlistedReports(limit: 10).map(\.name) == ["r.example/Zeta:1", "r.example/b:1"])
    }

    /// An image deleted from the registry leaves the fleet: the store that held three images
    /// and lost one answers as the store that only ever held the other two (every running
    /// count, the findings, the images, the trend's newest point), and its newest scan is gone,
    /// so a rescan no longer re-matches it. A name never stored removes nothing.
    @Test(arguments: Backend.allCases) func aRemovedImageLeavesEveryCount(_ backend: Backend) async throws {
        func finding(_ id: String, _ package: String, fixed: String?, _ severity: String) -> ReportFinding {
            ReportFinding(
                id: id, aliases: ["ALIAS-" + id], package: package, installedVersion: "1.0", fixedVersion: fixed, severity: severity,
                status: fixed == nil ? "affected" : "fixed")
        }
        func listing(_ name: String, _ findings: [ReportFinding], chain: String, gap: String?, exploited: String?) -> ReportListing {
            var listing = ReportListing.findings(findings, name: name)
            listing.image.layers = 2
            listing.image.bytes = 3000
            listing.image.chain = chain
            listing.image.missing = gap.map { [$0] } ?? []
            listing.image.fullyChecked = gap == nil
            listing.image.exploited = findings.filter { $0.id == exploited }.count
            listing.prefixes = [LayerPrefix(key: chain, parent: nil, layer: "sha256:" + chain, depth: 1, size: 3000)]
            for index in listing.vulnerabilities.indices where listing.vulnerabilities[index].id == exploited {
                listing.vulnerabilities[index].kevDateAdded = "2026-01-01"
            }
            return listing
        }
        let shared = finding("CVE-2026-10", "openssl", fixed: "3.1", "HIGH")
        let images: [String: ReportListing] = [
            "r.example/a:1": listing("r.example/a:1", [shared, finding("CVE-2026-11", "zlib", fixed: nil, "LOW")], chain: "base", gap: nil, exploited: nil),
            "r.example/b:1": listing(
                "r.example/b:1", [shared, finding("CVE-2026-12", "curl", fixed: "8", "CRITICAL"), finding("CVE-2026-13", "zlib", fixed: nil, "MEDIUM")],
                chain: "base", gap: "debian 13: no advisory data", exploited: "CVE-2026-12"),
            "r.example/c:1": listing("r.example/c:1", [finding("CVE-2026-11", "zlib", fixed: nil, "LOW")], chain: "other", gap: nil, exploited: nil),
        ]
        func store(_ store: any Store, _ name: String) async throws {
            let image = ImageRecord(
                manifestDigest: Digest.sha256(of: Array(name.utf8)), configDigest: Digest.sha256(of: Array(name.utf8)), created: nil, platform: nil, layers: [])
            try await store.recordRematches(
                changed: [ScanRecord(name: name, image: image, scannedAt: Date(), advisoryVersion: "v1", findings: [])], unchanged: [], advisoryVersion: "v1")
            try await store.storeReport(
                Array(name.utf8), name: name, repository: String(name.dropFirst("r.example/".count).prefix { $0 != ":" }), tag: "1",
                manifestDigest: image.manifestDigest, listing: try #require(images[name]))
        }
        func answers(_ store: any Store) async throws -> [String] {
            let view = try await store.fleetView(top: 10)
            // The packages of a vulnerability gather (a few), and prefixes stay: neither is a count.
            return [
                "images \(view.images) \(view.bySeverity.sorted { $0.key < $1.key }) layers \(view.layerUses) \(view.bytesReferenced) exploited \(view.imagesWithExploited)",
                "at risk \(view.mostAtRisk.map(\.name))",
                "widespread \(view.widespread.map { "\($0.id) \($0.severity) \($0.images)" })",
                "exploited \(view.exploited.map { "\($0.vulnerability.id) \($0.images)" })",
                "missing \(view.missing.filter { $0.value != 0 }.sorted { $0.key < $1.key })",
                "chains \(view.chains.filter { $0.value.images != 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.images) \($0.value.names) \($0.value.unchecked)" })",
                "findings \(try await store.findings(FindingsFilter(), after: nil, limit: 100).findings.map { "\($0.image) \($0.finding.id)" })",
                "by alias \(try await store.findings(FindingsFilter(id: "alias-cve-2026-10"), after: nil, limit: 100).images)",
                "by id \(try await store.findings(FindingsFilter(id: "CVE-2026-13"), after: nil, limit: 100).count)",
                "images \(try await store.images(ImagesFilter(), after: nil, limit: 100).map(\.name))",
                "curl \(try await store.images(ImagesFilter(query: "curl"), after: nil, limit: 100).map(\.name))",
                "trend \(try await store.fleetTrend().last.map { "\($0.images) \($0.findings)" } ?? "none")",
                "heads \(try await store.latestScanHeads(after: nil, limit: 100, notMatchedAgainst: nil).map(\.name))",
                "scans' trend \(try await store.findingTrend().map { "\($0.day) \($0.images)" })",
                "report \(try await store.report(name: "r.example/b:1").map { String(decoding: $0, as: UTF8.self) } ?? "none")",
            ]
        }
        let all = try await Self.open(backend, "removed")
        defer { Task { try? await all.close() } }
        for name in ["r.example/a:1", "r.example/b:1", "r.example/c:1"] { try await store(all, name) }
        // b is scanned again first: what leaves is its newest report's counts.
        try await store(all, "r.example/b:1")
        #expect(try await all.fleetView(top: 10).images == 3)
        // A name with a scan and no report yet (its report is being stored) loses its head only.
        try await all.recordRematches(
            changed: [ScanRecord(
                name: "r.example/scanned:1", image: ImageRecord(manifestDigest: nil, configDigest: Digest.sha256(of: [1]), created: nil, platform: nil, layers: []),
                scannedAt: Date(), advisoryVersion: "v1", findings: [])], unchanged: [], advisoryVersion: "v1")
        #expect(try await all.removeImages(["r.example/b:1", "r.example/never:1", "r.example/scanned:1"]) == ["r.example/b:1", "r.example/scanned:1"])
        #expect(try await all.removeImages(["r.example/b:1"]).isEmpty, "once")
        let others = try await Self.open(backend, "kept")
        defer { Task { try? await others.close() } }
        for name in ["r.example/a:1", "r.example/c:1"] { try await store(others, name) }
        let expected = try await answers(others)
        #expect(expected.contains("heads [\"r.example/a:1\", \"r.example/c:1\"]") && expected.contains("report none"), "\(expected)")
        #expect(try await answers(all) == expected)
        #expect(try await all.scanHistory(repository: "b", reference: "1").isEmpty, "no report, no history listed")
        // Removed, then pushed again: it is counted once more.
        try await store(all, "r.example/b:1")
        #expect(try await all.fleetView(top: 10).images == 3)
        #expect(try await all.findings(FindingsFilter(id: "CVE-2026-12"), after: nil, limit: 10).images == 1)
    }
}
