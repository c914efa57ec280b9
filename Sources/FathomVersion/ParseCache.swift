import FathomCore

/// Remembers parsed versions: matching compares the same few strings (an installed version,
/// the events of its advisories) hundreds of times. Bounded: cleared when full.
final class ParseCache<Value: Sendable>: Sendable {
    private let storage = Locked<[String: Value]>([:])
    private let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    func value(for text: String, parse: (String) throws -> Value) rethrows -> Value {
        if let cached = storage.withLock({ $0[text] }) { return cached }
        let parsed = try parse(text)
        storage.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[text] = parsed
        }
        return parsed
    }
}
