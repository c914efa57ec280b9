import FathomCore

/// A suite's expensive set-up (a registry with images pushed, a debootstrap root) made once, on
/// first use, by an async task. A `static let` initialiser would run the same tools inside
/// whichever test touched it first, holding one of Swift concurrency's few threads while they
/// work, and every other test would wait behind it.
public final class SharedFixture<Value: Sendable>: Sendable {
    /// (FathomCore's pthread lock: Thread Sanitizer cannot see the standard library Mutex's futex.)
    private let task = Locked<Task<Value, any Error>?>(nil)
    private let make: @Sendable () async throws -> Value

    public init(_ make: @escaping @Sendable () async throws -> Value) { self.make = make }

    /// The fixture, made by the first caller; a failure is the same failure for every caller.
    public var value: Value {
        get async throws {
            let make = self.make
            let running = task.withLock { current in
                if let current { return current }
                let made = Task { try await make() }
                current = made
                return made
            }
            return try await running.value
        }
    }
}
