import FathomCore
import FathomOCI
import FathomStore
import Foundation

/// What a registry's webhook delivers: the CNCF distribution registry's notification envelope
/// (`{"events": […]}`), or Harbor's webhook payload (`{"type": "PUSH_ARTIFACT", …}`).
enum WebhookPayload {
    /// The delivery's events, and those it could not read (named, for the log). An event
    /// without a timestamp happened when it was delivered.
    static func events(_ body: [UInt8], receivedAt: Date) throws -> (events: [RegistryEvent], unreadable: [String]) {
        if let harbor = try? JSONDecoder().decode(HarborPayload.self, from: Data(body)), harbor.type != nil {
            return (try harbor.events(receivedAt: receivedAt), [])
        }
        // The CNCF envelope: exactly one per delivery.
        struct Event: Decodable {}
        struct Envelope: Decodable { var events: [Event] }
        guard (try? JSONDecoder().decode(Envelope.self, from: Data(body))) != nil else {
            throw FathomError(.invalidInput, "the body is neither a registry notification envelope ({\"events\": […]}) nor a Harbor webhook payload")
        }
        return try RegistryEvent.read(body, file: "webhook delivery", receivedAt: receivedAt)
    }

    /// A manifest (not a layer blob) was pushed: the CNCF registry also notifies each blob.
    static func isManifest(_ event: RegistryEvent) -> Bool {
        guard let mediaType = event.mediaType else { return event.tag != nil }
        let type: MediaType? = MediaType(rawValue: mediaType)
        return type?.isManifest == true || type?.isIndex == true
    }

    /// The scan job of a pushed manifest: one pending job per image name and digest. It waits
    /// `settle` before a worker may take it: the CNCF registry notifies a push from the manifest's
    /// write and moves the tag just after, so a worker taking the job at once read the tag's
    /// previous manifest (or a 404 for a new tag) in the tests' fast loop.
    static func job(for event: RegistryEvent, host: String) -> NewJob {
        let name = "\(host)/\(event.repository)" + (event.tag.map { ":\($0)" } ?? event.digest.map { "@\($0)" } ?? ":latest")
        return NewJob(
            // `@` even without a digest (a Harbor resource may name none): a push's key, which
            // `isPush` knows, never a scan request's.
            kind: .scan, key: "scan \(name)@\(event.digest?.description ?? "")", image: name, repository: event.repository,
            reference: event.tag ?? event.digest?.description, delay: settle)
    }

    static let settle: Duration = .seconds(1)

    /// Whether `job` is a pushed manifest's scan (as `job(for:host:)` makes it, or a rescan
    /// for a moved tag): keyed by its name and digest, with no request's policy. A scan request
    /// is keyed by its name alone.
    static func isPush(_ job: Job) -> Bool {
        job.kind == .scan && job.payload == nil && job.key?.hasPrefix("scan \(job.image)@") == true
    }
}

/// Harbor's webhook payload (v2): `PUSH_ARTIFACT`, `PULL_ARTIFACT` and `DELETE_ARTIFACT` name
/// resources by `resource_url` (`host/project/repository:tag`) and digest.
struct HarborPayload: Decodable {
    struct EventData: Decodable {
        struct Resource: Decodable {
            var digest: String?
            var tag: String?
            var resource_url: String?
        }
        struct Repository: Decodable {
            var repo_full_name: String?
        }
        var resources: [Resource]?
        var repository: Repository?
    }
    var type: String?
    var occur_at: Int64?
    var event_data: EventData?

    func events(receivedAt: Date) throws -> [RegistryEvent] {
        let action: RegistryEvent.Action
        switch type {
        case "PUSH_ARTIFACT": action = .push
        case "PULL_ARTIFACT": action = .pull
        case "DELETE_ARTIFACT": action = .delete
        default: return []
        }
        guard let repository = event_data?.repository?.repo_full_name else {
            throw FathomError(.invalidInput, "a Harbor \(type ?? "") payload without event_data.repository.repo_full_name")
        }
        let at = occur_at.map { Date(timeIntervalSince1970: Double($0)) } ?? receivedAt
        return try (event_data?.resources ?? []).map { resource in
            let digest = try resource.digest.map { try Digest(parsing: $0) }
            // The host is what precedes the repository in the resource's URL.
            let host = resource.resource_url.flatMap { url in url.range(of: "/" + repository).map { String(url[..<$0.lowerBound]) } }
            return RegistryEvent(
                id: "harbor \(type ?? "") \(repository) \(resource.tag ?? "") \(resource.digest ?? "") \(occur_at ?? 0)", action: action,
                repository: repository, tag: resource.tag, digest: digest, mediaType: nil, timestamp: at, host: host)
        }
    }
}
