import FathomCore

/// A clock for tests of time-based behaviour (429 pauses, token lifetimes, backoff) that never
/// really sleeps. Sleepers wait until a test calls `advance(by:)` past their deadline, so a test
/// can see who is waiting and release them when it chooses; an `immediate` clock instead jumps
/// to each deadline at once, so code that sleeps runs straight through while the clock still
/// says how long it waited.
public final class ManualClock: Clock {
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var slept: Duration = .zero
    }

    private let state = Locked(State())
    private let immediate: Bool

    public init(immediate: Bool = false) { self.immediate = immediate }

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }
    /// Tasks waiting on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }
    /// All the time sleepers asked to wait, in clock time.
    public var slept: Duration { state.withLock { $0.slept } }

    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                state.slept += max(.zero, state.now.duration(to: deadline))
                if immediate, state.now < deadline { state.now = deadline }
                if deadline <= state.now { return true }
                state.sleepers.append(Sleeper(deadline: deadline, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Moves time on, waking every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let woken = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let ready = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return ready.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }
}
