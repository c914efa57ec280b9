import FathomCore
import Foundation

/// Waiters woken by what another task or process announces: idle workers by a job queued or
/// handed back (one key for all), processes waiting on another's layer claim by its digest. A
/// wake for a key ends the waits for that key; else each wait ends after its own time limit, or
/// at once when its task is cancelled.
public final class Wakeups: Sendable {
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

    public func wake(_ key: String = "") {
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
    public func wait(for key: String = "", since: Int, upTo limit: Duration) async {
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
