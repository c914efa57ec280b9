import FathomCore
import Foundation

/// Idle workers waiting for a job: woken together by `wake()` (a job queued or handed back),
/// else each after its own time limit, or at once when its task is cancelled.
public final class JobWakeups: Sendable {
    private let waiting = Locked<(wakes: Int, continuations: [UUID: CheckedContinuation<Void, Never>])>((0, [:]))

    public init() {}

    /// How many wakes so far: taken before looking for a job, it makes a wake that comes
    /// between the look and the wait end the wait at once (none is lost).
    public var wakes: Int { waiting.withLock { $0.wakes } }

    public func wake() {
        let woken = waiting.withLock { waiting in
            defer { waiting.continuations = [:] }
            waiting.wakes += 1
            return Array(waiting.continuations.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Waits for a wake after the `since`-th (at once if there has been one), `limit` at most.
    public func wait(since: Int, upTo limit: Duration) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let woken = waiting.withLock { waiting in
                    if waiting.wakes != since { return true }
                    waiting.continuations[id] = continuation
                    return false
                }
                if woken { return continuation.resume() }
                // Cancelled before it was listed: the handler found nothing to resume.
                if Task.isCancelled { resume(id) }
                Task {
                    try? await Task.sleep(for: limit)
                    self.resume(id)
                }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UUID) {
        waiting.withLock { $0.continuations.removeValue(forKey: id) }?.resume()
    }
}

/// Waiters on one of many things (another process's layer claim, by digest): a wake for a key
/// ends the waits for that key only, else each wait ends after its own time limit.
public final class KeyedWakeups: Sendable {
    private struct State {
        var wakes = 0
        /// The last wake of each key lately woken; keys older than `floor` are forgotten.
        var last: [String: Int] = [:]
        var floor = 0
        var waiting: [UUID: (key: String, continuation: CheckedContinuation<Void, Never>)] = [:]
    }
    private let state = Locked(State())
    /// Keys remembered at most (a wait for a forgotten one older than its signal ends at once).
    static let remembered = 4096

    public init() {}

    /// A mark to take before looking: a wake for the key between the look and the wait ends the
    /// wait at once.
    public var wakes: Int { state.withLock { $0.wakes } }

    public func wake(_ key: String) {
        let woken = state.withLock { state in
            state.wakes += 1
            state.last[key] = state.wakes
            if state.last.count > Self.remembered {
                // Forget the older half; a wait that may have missed one of them ends at once.
                let cut = state.last.values.sorted()[state.last.count / 2]
                state.last = state.last.filter { $0.value > cut }
                state.floor = cut
            }
            let ids = state.waiting.filter { $0.value.key == key }.map(\.key)
            return ids.compactMap { state.waiting.removeValue(forKey: $0)?.continuation }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Ends every wait (what happened while the wakes could not be heard is not known).
    public func wakeAll() {
        let woken = state.withLock { state in
            state.wakes += 1
            state.floor = state.wakes
            defer { state.waiting = [:] }
            return state.waiting.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Waits for a wake of `key` after the `since`-th wake (at once if there has been one), `limit` at most.
    public func wait(for key: String, since: Int, upTo limit: Duration) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let woken = state.withLock { state in
                    if (state.last[key] ?? 0) > since || state.floor > since { return true }
                    state.waiting[id] = (key, continuation)
                    return false
                }
                if woken { return continuation.resume() }
                if Task.isCancelled { resume(id) }
                Task {
                    try? await Task.sleep(for: limit)
                    self.resume(id)
                }
            }
        } onCancel: {
            resume(id)
        }
    }

    private func resume(_ id: UUID) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.continuation.resume()
    }
}
