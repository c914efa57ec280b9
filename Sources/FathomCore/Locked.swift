#if canImport(Glibc)
import Glibc
#endif

/// A value only reached while holding a pthread mutex.
///
/// The standard library's `Mutex` does the same job, but on Linux it waits on a futex that
/// Thread Sanitizer cannot see, so TSan reports every access made under it as a race and real
/// races would drown among them. TSan intercepts pthread mutexes, so with `Locked` the
/// sanitizer run (`scripts/test`) sees the locking and reports only what is not locked.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock; never call back into the same `Locked`.
    @inlinable
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body(&storage)
    }

    @usableFromInline var storage: Value {
        _read { yield value }
        _modify { yield &value }
    }

    @usableFromInline func lock() { pthread_mutex_lock(mutex) }
    @usableFromInline func unlock() { pthread_mutex_unlock(mutex) }
}
