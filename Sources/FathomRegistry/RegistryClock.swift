/// The clock a client keeps time by: pauses after a 429, token lifetimes and retry backoff.
/// Tests hand in a clock that does not really sleep, so those paths run in microseconds.
/// Times are durations since the client was made, which is what every use compares.
struct RegistryClock: Sendable {
    private let elapsedNow: @Sendable () -> Duration
    private let sleepFor: @Sendable (Duration) async throws -> Void

    init(_ clock: any Clock<Duration>) {
        self.init(opening: clock)
    }

    private init<C: Clock<Duration>>(opening clock: C) {
        let start = clock.now
        elapsedNow = { start.duration(to: clock.now) }
        sleepFor = { delay in try await clock.sleep(until: clock.now.advanced(by: delay), tolerance: nil) }
    }

    /// Time since the client was made.
    var now: Duration { elapsedNow() }

    func sleep(for delay: Duration) async throws {
        guard delay > .zero else { return }
        try await sleepFor(delay)
    }

    func sleep(until deadline: Duration) async throws {
        try await sleep(for: deadline - now)
    }
}
