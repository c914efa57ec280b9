#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FathomCore
import FathomSource
public import FathomOCI
public import FathomRegistry

/// Every `repository:tag` of a registry whose repository matches one of `repositories` and
/// whose tag matches `tags` (shell globs; `*` also crosses `/`), as fleet jobs. Tags are listed
/// one repository at a time, as the fleet asks for more work, so the listing holds one
/// repository's tags at most besides the catalog.
public struct RegistryListing: AsyncSequence, Sendable {
    public typealias Element = FleetJob

    public let registry: String
    public let client: RegistryClient
    public let repositories: [String]
    public let tags: [String]
    public let documents: (any DocumentCache)?

    public init(
        registry: String, client: RegistryClient, repositories: [String] = [], tags: [String] = [],
        documents: (any DocumentCache)? = nil
    ) {
        self.registry = registry
        self.client = client
        self.repositories = repositories
        self.tags = tags
        self.documents = documents
    }

    public static func matches(_ text: String, anyOf globs: [String]) -> Bool {
        globs.isEmpty || globs.contains { fnmatch($0, text, 0) == 0 }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: RegistryListing
        var repositories: [String]?
        var repositoryIndex = 0
        var pending: [FleetJob] = []

        public mutating func next() async throws -> FleetJob? {
            if repositories == nil {
                repositories = try await listing.client.catalog(listing.registry).filter {
                    RegistryListing.matches($0, anyOf: listing.repositories)
                }
            }
            while pending.isEmpty {
                guard let repositories, repositoryIndex < repositories.count else { return nil }
                let repository = repositories[repositoryIndex]
                repositoryIndex += 1
                let tags: [String]
                do {
                    tags = try await listing.client.tags(listing.registry, repository: repository)
                } catch {
                    // One repository that cannot be listed fails as one image; the fleet goes on.
                    let name = "\(listing.registry)/\(repository)"
                    return FleetJob(name: name, source: UnavailableSource(displayName: name, error: error), repository: repository)
                }
                pending = tags.filter { RegistryListing.matches($0, anyOf: listing.tags) }.sorted().reversed().map { tag in
                    let reference = ImageReference(registry: listing.registry, repository: repository, tag: tag)
                    return FleetJob(
                        name: reference.description, source: RegistryImageSource(reference: reference, client: listing.client, documents: listing.documents),
                        repository: repository, tag: tag)
                }
            }
            return pending.removeLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listing: self) }
}

/// A source that could not be opened: resolving it reports why, as one failed image.
struct UnavailableSource: ImageSource {
    let displayName: String
    let error: any Error

    func resolve(platform: Platform) async throws -> ResolvedImage {
        throw FathomError.wrapping(error, image: displayName)
    }

    func withLayer<Result>(_ layer: ImageLayer, _ body: (ByteStream) async throws -> Result) async throws -> Result {
        throw FathomError.wrapping(error, image: displayName)
    }
}
