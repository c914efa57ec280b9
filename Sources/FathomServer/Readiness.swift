import FathomCore
import FathomStore

/// `/readyz`'s answer: the store asked with a deadline, and the answer kept for a moment, so a
/// store that stopped answering is a 503 within a second (half of it for the store, the rest
/// for a loaded machine's scheduling), and probes arriving together ask it
/// once instead of piling requests onto a pool that waits for connections.
final class Readiness: Sendable {
    let deadline: Duration
    let keep: Duration
    /// The last answer (nil: ready; else the problem) and when it was had.
    private let last = Locked<(at: ContinuousClock.Instant, problem: String?)?>(nil)
    private let asking = Locked<Task<String?, Never>?>(nil)

    init(deadline: Duration = .milliseconds(500), keep: Duration = .seconds(1)) {
        self.deadline = deadline
        self.keep = keep
    }

    /// Nil when the store answers and its migrations are applied (opening it applied them);
    /// otherwise why not.
    func problem(of store: any Store) async -> String? {
        if let last = last.withLock({ $0 }), last.at.duration(to: .now) < keep { return last.problem }
        let task = asking.withLock { asking in
            if let asking { return asking }
            let task = Task { await self.ask(store) }
            asking = task
            return task
        }
        return await task.value
    }

    private func ask(_ store: any Store) async -> String? {
        // The query runs apart, so that a store that never answers cannot hold the probe.
        let query = Task { _ = try await store.jobCounts() }
        let problem: String?
        switch await WorkerPool.outcome(of: query, within: deadline) {
        case .success?: problem = nil
        case .failure(let error)?: problem = "the store does not answer: \(error)"
        case nil:
            query.cancel()
            problem = "the store did not answer within \(deadline)"
        }
        last.withLock { $0 = (.now, problem) }
        asking.withLock { $0 = nil }
        return problem
    }
}
