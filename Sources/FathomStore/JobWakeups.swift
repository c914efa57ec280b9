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
