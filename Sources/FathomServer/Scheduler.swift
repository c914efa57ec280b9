import FathomCore
public import FathomStore
public import Foundation
public import Logging
public import ServiceLifecycle

/// Puts the service's recurring work on the queue, as jobs any worker takes: an advisory update
/// every `updateInterval`, and a rescan after every change of the advisory data (however it
/// was changed: an update job, `db import`, `db pull`) and every `rescanInterval`. Job keys
/// name the time slot or the data version, so several `serve` processes queue each once.
/// At start and hourly it prunes what is older than `retention` itself (`pruneHourly`).
public struct Scheduler: Service {
    let store: any Store
    let configuration: ServiceConfiguration
    let logger: Logger

    public init(store: any Store, configuration: ServiceConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Ends at once on SIGTERM, even while waiting for a store that is down (it held the
    /// process past Kubernetes' grace period). What it was queueing is keyed, so nothing is
    /// queued twice; a rescan or update it did not queue waits for the next change or interval.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await schedule() }
        } catch where Task.isCancelled || Task.isShuttingDownGracefully || error is CancellationError {
            return
        }
    }

    func schedule() async throws {
        // Pruning in a task of its own: a long first prune after an upgrade does not hold back
        // the rescans and updates, nor its failure theirs.
        let pruning = configuration.retention.map { retention in Task { await pruneHourly(retention: retention) } }
        defer { pruning?.cancel() }
        var lastVersion = try await store.advisoryVersion()
        var lastSlots: [Job.Kind: Int64] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let now = Date()
                for (kind, interval) in [(Job.Kind.update, configuration.updateInterval), (.rescan, configuration.rescanInterval)] {
                    guard let interval, kind != .update || !configuration.feeds.isEmpty else { continue }
                    let slot = Int64(now.timeIntervalSince1970 / max(1, interval.seconds))
                    // Slots are counted from the epoch (a daily one starts at midnight UTC), so
                    // every replica names the same slot and queues it once. The slot a process
                    // starts in is taken as done: the first run comes when the next slot begins
                    // (at most an interval after start), not at every restart.
                    if lastSlots[kind] == nil { lastSlots[kind] = slot }
                    guard lastSlots[kind] != slot else { continue }
                    lastSlots[kind] = slot
                    try await enqueue(kind, key: "\(kind.rawValue) every \(Int(interval.seconds)) s, slot \(slot)")
                }
                let version = try await store.advisoryVersion()
                if version != lastVersion {
                    lastVersion = version
                    try await enqueue(.rescan, key: "rescan for advisory data \(version)")  // as POST /v1/rescans
                }
            } catch {
                // Stopping (the group cancelled, e.g. when the listener could not bind) is not an error.
                if Task.isCancelled || error is CancellationError { break }
                logger.error("scheduler", metadata: ["error": "\(FathomError.plain(error))"])
            }
            try? await Task.sleep(for: configuration.schedulerTick)
        }
    }

    /// At start, then hourly, deletes what is older than `retention` (registry events only
    /// beyond the rescan window too). The hour is a pace, not a slot: each replica's prune finds
    /// what another left. Ends when cancelled.
    func pruneHourly(retention: Duration) async {
        while !Task.isCancelled {
            do {
                let pruned = try await Self.prune(store, retention: retention, rescanWindow: configuration.rescanWindow, now: Date())
                if pruned.total > 0 {
                    logger.info(
                        "pruned rows older than the retention, and rows no report reads", metadata: ["jobs": "\(pruned.jobs)", "notifications": "\(pruned.notifications)",
                        "events": "\(pruned.events)", "scans": "\(pruned.scans)", "images": "\(pruned.images)",
                        "inventories": "\(pruned.inventories)", "matches": "\(pruned.matches)",
                        "packageLists": "\(pruned.packageLists)", "lineage": "\(pruned.lineage)",
                    ])
                }
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                logger.error("cannot prune rows older than the retention", metadata: ["error": "\(FathomError.plain(error))"])
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    /// What `serve --retention` and `db prune` delete: everything older than `retention`, but
    /// the registry events the rescan window reads.
    public static func prune(_ store: any Store, retention: Duration, rescanWindow: Duration, now: Date) async throws -> PrunedRows {
        try await store.prune(
            before: now.addingTimeInterval(-retention.seconds), eventsBefore: now.addingTimeInterval(-max(retention, rescanWindow).seconds))
    }

    func enqueue(_ kind: Job.Kind, key: String) async throws {
        let (id, added) = try await store.enqueue(NewJob(kind: kind, key: key, image: "", repository: nil, reference: nil), now: Date())
        if added { logger.info("queued", metadata: ["job": "\(id)", "kind": "\(kind.rawValue)", "key": "\(key)"]) }
    }
}

extension Scheduler: CustomStringConvertible {
    public var description: String { "Scheduler" }
}
