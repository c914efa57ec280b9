import AsyncAlgorithms
import FathomCore
import FathomLayer
public import FathomOCI
public import FathomRegistry
public import FathomStore
import Synchronization

/// A rescan of stored images against the current advisories, with no blob downloaded: each
/// registry is probed once, then each tag gets one manifest HEAD. A tag that moved is scanned
/// again (reading only layers the store does not know); every other image is re-matched from
/// its stored layer facts. The command and the service's scheduler both run it.
public struct FleetRescan: Sendable {
    public let fleet: FleetScanner
    /// The client for tag checks; nil re-matches every stored image without asking registries.
    public let client: RegistryClient?
    /// Where configs of moved tags are looked up and kept.
    public let documents: (any DocumentCache)?

    public init(fleet: FleetScanner, client: RegistryClient?, documents: (any DocumentCache)?) {
        self.fleet = fleet
        self.client = client
        self.documents = documents
    }

    /// The registries the records name (those whose tags a rescan checks).
    public static func registries(of records: [ScanRecord]) -> [String] {
        Set(records.compactMap { record -> String? in
            guard case .registry(let reference) = try? SourceReference(parsing: record.name) else { return nil }
            return reference.registry
        }).sorted()
    }

    /// Rescans `records`, handing each outcome to `each`; returns warnings (registries and tags
    /// that could not be checked; their images were re-matched as stored). Each registry is
    /// asked once first, so one that does not answer is not asked about every tag.
    public func run(_ records: [ScanRecord], each: (FleetOutcome) async throws -> Void) async throws -> [String] {
        let warnings = Mutex<[String]>([])
        var unreachable = Set<String>()
        if let client {
            for registry in Self.registries(of: records) {
                do {
                    try await client.ping(registry, attempts: 1)
                } catch {
                    unreachable.insert(registry)
                    warnings.withLock { $0.append("\(registry): tags not re-checked, the registry did not answer: \(error)") }
                }
            }
        }
        fleet.progress.setTotal(records.count)
        let skipped = unreachable
        try await fleet.run(
            records.async,
            operation: { record in
                await self.rescan(record, skipping: skipped) { warning in warnings.withLock { $0.append(warning) } }
            }, each: each)
        return warnings.withLock { $0 }
    }

    /// Scans `record`'s tag again when it moved, else re-matches the stored image.
    public func rescan(_ record: ScanRecord, skipping unreachable: Set<String> = [], warn: @Sendable (String) -> Void) async
        -> FleetOutcome
    {
        if let client, case .registry(let reference) = try? SourceReference(parsing: record.name), reference.digest == nil,
            !unreachable.contains(reference.registry)
        {
            do {
                let current = try await client.manifestDigest(reference)
                if current != record.image.taggedDigest {
                    let source = RegistryImageSource(reference: reference, client: client, documents: documents)
                    return await fleet.scan(FleetJob(name: record.name, source: source, repository: reference.repository, tag: reference.tag))
                }
            } catch {
                // The stored image is still worth re-matching; say the tag was not checked.
                warn("\(record.name): tag not re-checked: \(FathomError.wrapping(error))")
            }
        }
        return await fleet.rematch(record)
    }
}
