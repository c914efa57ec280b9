public import FathomOCI
public import FathomStore
public import Foundation

/// Which images a fleet run scans, by when they were pushed and pulled: `--pushed-since` and
/// `--pulled-since` on the command line, and the service's scheduled rescans.
public struct FleetPolicy: Sendable {
    /// Only images pushed at or after this time (push events, else the config's `created`).
    public var pushedSince: Date?
    /// Only images pulled at or after this time (pull events; an image never pulled is left out).
    public var pulledSince: Date?

    public init(pushedSince: Date? = nil, pulledSince: Date? = nil) {
        self.pushedSince = pushedSince
        self.pulledSince = pulledSince
    }

    /// The filter over what `events` recorded, or nil when the policy selects every image.
    public func filter(events: any EventLog) -> FleetFilter? {
        guard pushedSince != nil || pulledSince != nil else { return nil }
        let policy = self
        return { job, image in try await policy.reasonToSkip(job, image, events: events) }
    }

    /// Why the policy leaves the image out, or nil to scan it.
    public func reasonToSkip(_ job: FleetJob, _ image: ResolvedImage, events: any EventLog) async throws -> String? {
        let repository = job.repository ?? ""
        let format = ISO8601DateFormatter()
        if let pushedSince {
            let pushed =
                try await events.lastEvent(.push, repository: repository, tag: job.tag, digest: image.manifestDigest)
                ?? image.config.created.flatMap(RegistryEvent.parseTimestamp)
            if let pushed, pushed < pushedSince {
                return "pushed \(format.string(from: pushed)), before \(format.string(from: pushedSince))"
            }
        }
        if let pulledSince {
            guard let pulled = try await events.lastEvent(.pull, repository: repository, tag: job.tag, digest: image.manifestDigest)
            else { return "no pull recorded" }
            if pulled < pulledSince {
                return "last pulled \(format.string(from: pulled)), before \(format.string(from: pulledSince))"
            }
        }
        return nil
    }
}
