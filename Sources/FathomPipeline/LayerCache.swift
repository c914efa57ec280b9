public import FathomCore
public import FathomInventory
public import FathomStore
import Foundation

/// Layer facts by digest, single-flight: however many images need a layer at once, it is read
/// at most once; the others wait for that one result. Facts come from memory, then the store,
/// then one read. A read's facts, verified by then, are handed to the images at once and
/// written to the store behind them, so a slow store write never holds a scan back; `flush`
/// waits for those writes and reports any that failed. A failed read is never stored; it is
/// remembered for this run only, so every image that needs the layer fails with the same
/// cause without fetching it again.
public actor LayerCache {
    public enum Outcome: Sendable {
        /// Read from the blob by this call.
        case fetched
        /// Known already (stored, in memory, or read by a concurrent call).
        case reused
    }

    let store: (any LayerFactsStore)?
    /// Claims shared with other processes of the same store (nil: this process is alone).
    let claims: SharedClaims?
    private var memory: [Digest: LayerFacts] = [:]
    private var memoryOrder: [Digest] = []
    private let memoryLimit: Int
    private var inFlight: [Digest: Task<LayerFacts, any Error>] = [:]
    private var failures: [Digest: any Error] = [:]
    /// Store writes not finished yet, and the first one that failed.
    private var pendingWrites: [Digest: Task<Void, Never>] = [:]
    private var writeFailure: (any Error)?

    /// - Parameter memoryLimit: facts kept decoded in memory (a fleet's shared base layers are
    ///   looked up by every image; decoding them from the store each time would dominate).
    public init(store: (any LayerFactsStore)?, memoryLimit: Int = 512) {
        self.store = store
        self.claims = nil
        self.memoryLimit = max(1, memoryLimit)
    }

    /// A cache whose reads are single-flight across every process sharing `store` (the
    /// service's workers): a layer another process is reading is waited for, not read again.
    public init(store: any Store, owner: String, lease: Duration, memoryLimit: Int = 512) {
        self.store = store
        self.claims = SharedClaims(claims: store, owner: owner, lease: lease)
        self.memoryLimit = max(1, memoryLimit)
    }

    /// Who this process is to the other readers of its store, and how long a claim lasts
    /// without renewal.
    public struct SharedClaims: Sendable {
        let claims: any LayerClaims
        let owner: String
        let lease: Duration
    }

    /// The facts of `key`, from what is known or from `read`, which runs at most once per key
    /// at a time.
    public func facts(
        for key: Digest, read: @escaping @Sendable () async throws -> LayerFacts
    ) async throws -> (LayerFacts, Outcome) {
        if let known = memory[key] { return (known, .reused) }
        if let failure = failures[key] { throw failure }
        if let running = inFlight[key] { return (try await running.value, .reused) }
        // Looking in the store suspends: the key is in flight meanwhile, so concurrent callers
        // wait for this one instead of reading the layer a second time.
        let (store, claims) = (self.store, self.claims)
        let task = Task { () async throws -> (LayerFacts, Bool) in
            if let claims { return try await Self.readClaimed(key, read: read, claims: claims) }
            if let stored = try await store?.layerFacts(key) { return (stored, false) }
            return (try await read(), true)
        }
        inFlight[key] = Task { try await task.value.0 }
        do {
            let (facts, fetched) = try await task.value
            inFlight[key] = nil
            remember(facts, for: key)
            // A claimed read stored its facts before giving the claim up (other processes wait on them).
            if fetched && claims == nil { storeBehind(facts, for: key) }
            return (facts, fetched ? .fetched : .reused)
        } catch {
            inFlight[key] = nil
            failures[key] = error
            throw error
        }
    }

    /// Reads `key` once across the processes of the store: the stored facts, else with the claim,
    /// read it, store its facts and give the claim up (renewing it while the read runs); while
    /// another process holds the claim, wait for the facts it stores, or for its claim to lapse
    /// (it died) and take it. A layer read here costs the store two statements on PostgreSQL,
    /// whose waiters are woken by the holder's NOTIFY rather than looking every 100 ms.
    static func readClaimed(
        _ key: Digest, read: @escaping @Sendable () async throws -> LayerFacts, claims: SharedClaims
    ) async throws -> (LayerFacts, Bool) {
        while true {
            // Taken before the look: a claim given up between the look and the wait ends it at once.
            let signal = claims.claims.layerSignal()
            let (stored, claimed) = try await claims.claims.factsOrClaim(key, owner: claims.owner, lease: claims.lease, now: Date())
            if let stored { return (stored, false) }
            if claimed { break }
            // Woken when a holder gives a claim up (PostgreSQL's NOTIFY); the limit is the slow
            // look for a holder that died, or while the store's listener is reconnecting.
            await claims.claims.waitForLayer(key, since: signal, upTo: .seconds(1))
            try Task.checkCancellation()
        }
        let renewal = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: claims.lease / 3)
                if Task.isCancelled { break }
                _ = try? await claims.claims.claimLayer(key, owner: claims.owner, lease: claims.lease, now: Date())
            }
        }
        defer { renewal.cancel() }
        do {
            let facts = try await read()
            try await claims.claims.storeClaimedLayerFacts(facts, for: key, owner: claims.owner)
            return (facts, true)
        } catch {
            try? await claims.claims.releaseLayer(key, owner: claims.owner)
            throw error
        }
    }

    /// Facts already known (memory or store), without reading anything.
    public func knownFacts(for key: Digest) async throws -> LayerFacts? {
        if let known = memory[key] { return known }
        guard let stored = try await store?.layerFacts(key) else { return nil }
        remember(stored, for: key)
        return stored
    }

    /// Waits until every verified layer read so far is in the store; throws the first write
    /// that failed (those layers are read again by a later run).
    public func flush() async throws {
        while let write = pendingWrites.first?.value {
            await write.value
        }
        if let writeFailure {
            self.writeFailure = nil
            throw FathomError.wrapping(writeFailure)
        }
    }

    private func storeBehind(_ facts: LayerFacts, for key: Digest) {
        guard let store else { return }
        pendingWrites[key] = Task {
            do {
                try await store.storeLayerFacts(facts, for: key)
                self.finishedWrite(key, error: nil)
            } catch {
                self.finishedWrite(key, error: FathomError.wrapping(error, layer: key.description))
            }
        }
    }

    private func finishedWrite(_ key: Digest, error: (any Error)?) {
        pendingWrites[key] = nil
        if let error, writeFailure == nil { writeFailure = error }
    }

    private func remember(_ facts: LayerFacts, for key: Digest) {
        if memory.updateValue(facts, forKey: key) == nil { memoryOrder.append(key) }
        if memoryOrder.count > memoryLimit {
            memory[memoryOrder.removeFirst()] = nil
        }
    }
}
