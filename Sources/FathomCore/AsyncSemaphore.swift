import DequeModule

/// A counting semaphore for async code: at most `permits` holders at once; waiters are served
/// in arrival order. Stage budgets (layers read at once, requests to one registry) use it.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        /// In arrival order; a release takes the first (a Deque: O(1) at the front).
        var waiters: Deque<(id: Int, continuation: CheckedContinuation<Void, any Error>)> = []
        var nextID = 0
    }

    private let state: Locked<State>

    public init(permits: Int) {
        precondition(permits > 0, "a semaphore needs at least one permit")
        state = Locked(State(available: permits))
    }

    /// Waits for a permit; throws `CancellationError` if the task is cancelled while waiting.
    public func acquire() async throws {
        let id: Int? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state in
                    if Task.isCancelled { return true }
                    state.waiters.append((id, continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    public func release() {
        let waiter = state.withLock { state in
            if state.waiters.isEmpty {
                state.available += 1
                return nil as CheckedContinuation<Void, any Error>?
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume()
    }

    /// Runs `body` holding one permit, in the caller's isolation.
    public func withPermit<Result>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        try await acquire()
        defer { release() }
        return try await body()
    }
}
