public import FathomCore
public import FathomInventory
public import FathomStore

/// Layer facts by digest, single-flight: however many images need a layer at once, it is read
/// at most once; the others wait for that one result. Facts come from memory, then the store,
/// then one read whose verified result is stored. A failed read is never stored; it is
/// remembered for this run only, so every image that needs the layer fails with the same
/// cause without fetching it again.
public actor LayerCache {
    public enum Outcome: Sendable {
        /// Read from the blob by this call.
        case fetched
        /// Known already (stored, in memory, or read by a concurrent call).
        case reused
    }

    let store: (any Store)?
    private var memory: [Digest: LayerFacts] = [:]
    private var memoryOrder: [Digest] = []
    private let memoryLimit: Int
    private var inFlight: [Digest: Task<LayerFacts, any Error>] = [:]
    private var failures: [Digest: any Error] = [:]

    /// - Parameter memoryLimit: facts kept decoded in memory (a fleet's shared base layers are
    ///   looked up by every image; decoding them from the store each time would dominate).
    public init(store: (any Store)?, memoryLimit: Int = 512) {
        self.store = store
        self.memoryLimit = max(1, memoryLimit)
    }

    /// The facts of `key`, from what is known or from `read`, which runs at most once per key
    /// at a time.
    public func facts(
        for key: Digest, read: @escaping @Sendable () async throws -> LayerFacts
    ) async throws -> (LayerFacts, Outcome) {
        if let known = memory[key] { return (known, .reused) }
        if let failure = failures[key] { throw failure }
        if let running = inFlight[key] { return (try await running.value, .reused) }
        if let stored = try store?.layerFacts(key) {
            remember(stored, for: key)
            return (stored, .reused)
        }
        let store = self.store
        let task = Task {
            let facts = try await read()
            try store?.storeLayerFacts(facts, for: key)
            return facts
        }
        inFlight[key] = task
        do {
            let facts = try await task.value
            inFlight[key] = nil
            remember(facts, for: key)
            return (facts, .fetched)
        } catch {
            inFlight[key] = nil
            failures[key] = error
            throw error
        }
    }

    /// Facts already known (memory or store), without reading anything.
    public func knownFacts(for key: Digest) throws -> LayerFacts? {
        if let known = memory[key] { return known }
        guard let stored = try store?.layerFacts(key) else { return nil }
        remember(stored, for: key)
        return stored
    }

    private func remember(_ facts: LayerFacts, for key: Digest) {
        if memory.updateValue(facts, forKey: key) == nil { memoryOrder.append(key) }
        if memoryOrder.count > memoryLimit {
            memory[memoryOrder.removeFirst()] = nil
        }
    }
}
