public import FathomCore
import FathomSource
public import FathomOCI
public import FathomRegistry
public import FathomStore

/// A rescan of stored images against the current advisories, with no blob downloaded: each
/// registry is probed once, then each tag gets one manifest HEAD. A tag that moved is scanned
/// again (reading only layers the store does not know), or handed to `moved`; every other
/// image is re-matched from its stored layer facts. The command and the service's scheduler
/// both run it.
public struct FleetRescan: Sendable {
    /// What becomes of a tag found elsewhere than its stored image (`reference`, now at
    /// `digest`): the service queues a scan job for it rather than scanning inside its rescan.
    public typealias MovedTag = @Sendable (_ head: ScanHead, _ reference: ImageReference, _ digest: Digest) async throws -> FleetOutcome

    public let fleet: FleetScanner
    /// The client for tag checks; nil re-matches every stored image without asking registries.
    public let client: RegistryClient?
    /// Where configs of moved tags are looked up and kept.
    public let documents: (any DocumentCache)?
    /// Nil: a moved tag is scanned in the rescan.
    public let moved: MovedTag?

    public init(fleet: FleetScanner, client: RegistryClient?, documents: (any DocumentCache)?, moved: MovedTag? = nil) {
        self.fleet = fleet
        self.client = client
        self.documents = documents
        self.moved = moved
    }

    /// The registries the names belong to (those whose tags a rescan checks).
    public static func registries(of names: [String]) -> [String] {
        Set(names.compactMap { name -> String? in
            guard case .registry(let reference) = try? SourceReference(parsing: name) else { return nil }
            return reference.registry
        }).sorted()
    }

    /// Rescans the newest scan of every stored name (only those last matched against other
    /// advisory data, with `onlyOutdated`), paging through the store so that memory does not
    /// grow with the fleet; hands each outcome to `each`; returns warnings (registries and tags
    /// that could not be checked: their images were re-matched as stored). Each registry is
    /// asked once first, so one that does not answer is not asked about every tag; a repository
    /// that refused fathom's credentials for one tag is not asked again in the run.
    /// `checkingCurrentTags` (with `onlyOutdated` and a client): the tags of images already
    /// matched against the current advisories are checked too, and only checked (a moved tag is
    /// scanned, a deleted one removed, the rest skipped), as the service's periodic rescan does
    /// for registries that announce no pushes or deletes.
    public func run(
        onlyOutdated: Bool = false, checkingCurrentTags: Bool = false, filter: (@Sendable (ScanHead) async throws -> String?)? = nil,
        each: (FleetOutcome) async throws -> Void
    ) async throws -> [String] {
        guard let history = fleet.history else { throw FathomError(.invalidInput, "a rescan needs a store") }
        let warnings = Locked<[String]>([])
        let unreachable = Locked<Set<String>>([])
        if let client {
            for registry in Self.registries(of: try await history.scannedNames()) {
                do {
                    try await client.ping(registry, attempts: 1)
                } catch {
                    unreachable.withLock { _ = $0.insert(registry) }
                    warnings.withLock { $0.append("\(registry): tags not re-checked, the registry did not answer: \(error)") }
                }
            }
        }
        let tagsOnly = onlyOutdated && checkingCurrentTags && client != nil
        let heads = ScanHeadPages(history: history, notMatchedAgainst: onlyOutdated && !tagsOnly ? fleet.advisoryVersion : nil)
        try await fleet.run(
            heads,
            operation: { head in
                do {
                    if let reason = try await filter?(head) {
                        fleet.progress.finish(.skipped)
                        return .skipped(name: head.name, reason: reason)
                    }
                } catch {
                    fleet.progress.finish(.failed)
                    return .failed(name: head.name, error: FathomError.wrapping(error, image: head.name))
                }
                let current = tagsOnly && head.advisoryVersion == fleet.advisoryVersion
                return await self.rescan(head, skipping: unreachable, onlyTheTag: current) { warning in warnings.withLock { $0.append(warning) } }
            }, each: each)
        return warnings.withLock { $0 }
    }

    /// Scans `head`'s tag again when it moved, else re-matches the stored image (`onlyTheTag`:
    /// skips it); takes it out of the fleet when the registry says its tag is gone.
    public func rescan(
        _ head: ScanHead, skipping unreachable: Locked<Set<String>> = Locked([]), onlyTheTag: Bool = false, warn: @Sendable (String) -> Void
    ) async -> FleetOutcome {
        if let client, case .registry(let reference) = try? SourceReference(parsing: head.name), reference.digest == nil,
            !unreachable.withLock({ $0.contains(reference.registry) || $0.contains(reference.registry + "/" + reference.repository) })
        {
            do {
                let current = try await client.manifestDigest(reference)
                let image = try head.image()
                // One manifest may be stored through an index tag and a plain tag: the tag is
                // where it was if it names either, or an index whose platform picks the manifest.
                if current != image.manifestDigest && current != image.indexDigest {
                    let source = RegistryImageSource(reference: reference, client: client, documents: documents)
                    let resolved = try await source.resolve(platform: fleet.scanner.platform)
                    if resolved.manifestDigest != image.manifestDigest {
                        guard let moved else {
                            return await fleet.scan(FleetJob(name: head.name, source: source, repository: reference.repository, tag: reference.tag))
                        }
                        do {
                            let outcome = try await moved(head, reference, current)
                            fleet.progress.finish(.skipped)
                            return outcome
                        } catch {
                            fleet.progress.finish(.failed)
                            return .failed(name: head.name, error: FathomError.wrapping(error, image: head.name))
                        }
                    }
                }
            } catch let error as FathomError where error.code == .unauthorized {
                // Credentials refused for one tag are refused for the repository's next: said once.
                let repository = reference.registry + "/" + reference.repository
                if unreachable.withLock({ $0.insert(repository).inserted }) {
                    warn("\(repository): tags not re-checked, the registry refused fathom's credentials: \(error)")
                }
            } catch {
                // A tag the registry says is gone takes its image out of the fleet, as its delete
                // event would have; any other failure leaves the stored image to be re-matched.
                if (error as? FathomError)?.code == .notFound, await client.saysUnknown(reference), let history = fleet.history {
                    do {
                        _ = try await history.removeImages([head.name])
                        fleet.progress.finish(.skipped)
                        return .removed(name: head.name)
                    } catch {
                        warn("\(head.name): deleted from the registry, but could not be taken out of the store: \(FathomError.wrapping(error))")
                    }
                }
                warn("\(head.name): tag not re-checked: \(FathomError.wrapping(error))")
            }
        }
        if onlyTheTag {
            fleet.progress.finish(.skipped)
            return .skipped(name: head.name, reason: "matched against the current advisories; its tag was not found moved")
        }
        return await fleet.rematch(head)
    }
}

/// The newest scan of every name, read from the store a page at a time as the fleet asks.
struct ScanHeadPages: AsyncSequence, Sendable {
    typealias Element = ScanHead
    let history: any ScanHistory
    let notMatchedAgainst: String?
    var pageSize = 1000

    struct AsyncIterator: AsyncIteratorProtocol {
        let pages: ScanHeadPages
        var page: [ScanHead] = []
        var position = 0
        var last: String?
        var done = false

        mutating func next() async throws -> ScanHead? {
            if position == page.count {
                guard !done else { return nil }
                page = try await pages.history.latestScanHeads(after: last, limit: pages.pageSize, notMatchedAgainst: pages.notMatchedAgainst)
                position = 0
                done = page.count < pages.pageSize
                last = page.last?.name
                guard !page.isEmpty else { return nil }
            }
            defer { position += 1 }
            return page[position]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }
}
