import FathomCore
import FathomStore

/// Whether the store answers: `/readyz`'s answer, and what lets API requests fail at once,
/// naming the cause, while the store is down instead of each waiting for the connection pool.
/// The store is asked with a deadline and the answer kept for a moment, so a store that stopped
/// answering is a 503 within a second (half of it for the query, the rest for naming the cause
/// and for a loaded machine's scheduling), and probes arriving together ask it once.
final class Readiness: Sendable {
    let deadline: Duration
    let keep: Duration
    struct Answer: Sendable {
        var at: ContinuousClock.Instant
        /// Nil: ready; else why not.
        var problem: String?
        /// Why the store cannot be reached at all (a fresh connection failed), when that is so;
        /// nil when it answers or is only slow.
        var unreachable: String?
    }
    private let last = Locked<Answer?>(nil)
    private let asking = Locked<Task<Answer, Never>?>(nil)

    init(deadline: Duration = .milliseconds(500), keep: Duration = .milliseconds(500)) {
        self.deadline = deadline
        self.keep = keep
    }

    /// Nil when the store answers and its migrations are applied (opening it applied them);
    /// otherwise why not.
    func problem(of store: any Store) async -> String? { await answer(of: store).problem }

    /// Why the store cannot be reached, as last found, without waiting: a request is never held
    /// by this look. A look older than `keep` is taken again in the background.
    func unreachable(_ store: any Store) -> String? {
        let known = last.withLock { $0 }
        if known.map({ $0.at.duration(to: .now) >= keep }) ?? true {
            Task { _ = await self.answer(of: store) }
        }
        return known?.unreachable
    }

    private func answer(of store: any Store) async -> Answer {
        if let last = last.withLock({ $0 }), last.at.duration(to: .now) < keep { return last }
        let task = asking.withLock { asking in
            if let asking { return asking }
            let task = Task { await self.ask(store) }
            asking = task
            return task
        }
        return await task.value
    }

    private func ask(_ store: any Store) async -> Answer {
        // The query runs apart, so that a store that never answers cannot hold the probe. The
        // advisory version is the store's smallest table.
        let query = Task { _ = try await store.advisoryVersion() }
        var answer = Answer(at: .now, problem: nil, unreachable: nil)
        let outcome = await WorkerPool.outcome(of: query, within: deadline)
        if case .success? = outcome {
            // Ready.
        } else {
            query.cancel()
            // Down, or only slow? A fresh connection says which, and names the cause.
            answer.unreachable = await store.unreachable(within: deadline * 4 / 5)
            switch outcome {
            case .failure(let error)?: answer.problem = "the store does not answer: \(answer.unreachable ?? "\(error)")"
            default: answer.problem = answer.unreachable.map { "the store does not answer: \($0)" } ?? "the store did not answer within \(deadline)"
            }
        }
        answer.at = .now
        last.withLock { $0 = answer }
        asking.withLock { $0 = nil }
        return answer
    }
}
