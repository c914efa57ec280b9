public import FathomStore
import Foundation
public import Logging
public import ServiceLifecycle

/// Puts the service's recurring work on the queue, as jobs any worker takes: an advisory update
/// every `updateInterval`, and a rescan after every change of the advisory data (however it
/// was changed: an update job, `db import`, `db pull`) and every `rescanInterval`. Job keys
/// name the time slot or the data version, so several `serve` processes queue each once.
public struct Scheduler: Service {
    let store: any Store
    let configuration: ServiceConfiguration
    let logger: Logger

    public init(store: any Store, configuration: ServiceConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        var lastVersion = try await store.advisoryVersion()
        var lastSlots: [Job.Kind: Int64] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let now = Date()
                for (kind, interval) in [(Job.Kind.update, configuration.updateInterval), (.rescan, configuration.rescanInterval)] {
                    guard let interval, kind != .update || !configuration.feeds.isEmpty else { continue }
                    let slot = Int64(now.timeIntervalSince1970 / max(1, interval.seconds))
                    // The first slot of this process's life is the one it started in: updates and
                    // rescans run an interval after start, not at every restart.
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
                logger.error("scheduler", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.schedulerTick)
        }
    }

    func enqueue(_ kind: Job.Kind, key: String) async throws {
        let (id, added) = try await store.enqueue(NewJob(kind: kind, key: key, image: "", repository: nil, reference: nil), now: Date())
        if added { logger.info("queued", metadata: ["job": "\(id)", "kind": "\(kind.rawValue)", "key": "\(key)"]) }
    }
}

extension Scheduler: CustomStringConvertible {
    public var description: String { "Scheduler" }
}
