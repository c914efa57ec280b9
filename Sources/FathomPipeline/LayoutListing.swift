import FathomCore
import FathomSource
import FathomOCI

/// Every image of an OCI image layout (`oci:DIR`, e.g. a registry mirrored with `skopeo sync`
/// or `oras`), as fleet jobs: one per `index.json` entry whose ref name (`repository:tag` or
/// `tag`) the globs select. The index is read once; each job resolves its own entry.
public struct LayoutListing: AsyncSequence, Sendable {
    public typealias Element = FleetJob

    public let directory: String
    public let repositories: [String]
    public let tags: [String]

    public init(directory: String, repositories: [String] = [], tags: [String] = []) {
        self.directory = directory
        self.repositories = repositories
        self.tags = tags
    }

    /// A ref name's repository (before the last `:`, when it has one) and tag.
    static func split(_ refName: String) -> (repository: String?, tag: String) {
        guard let colon = refName.lastIndex(of: ":") else { return (nil, refName) }
        return (String(refName[..<colon]), String(refName[refName.index(after: colon)...]))
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: LayoutListing
        var entries: [Descriptor]?
        var position = 0

        public mutating func next() async throws -> FleetJob? {
            if entries == nil {
                entries = try OCILayoutSource.entries(directory: listing.directory)
            }
            while let entries, position < entries.count {
                let entry = entries[position]
                position += 1
                let refName = entry.annotations?[Descriptor.refNameAnnotation]
                let (repository, tag) = refName.map(LayoutListing.split) ?? (nil, entry.digest.description)
                guard RegistryListing.matches(tag, anyOf: listing.tags),
                    listing.repositories.isEmpty || repository.map({ RegistryListing.matches($0, anyOf: listing.repositories) }) == true
                else { continue }
                let name = "oci:\(listing.directory)" + (refName.map { ":\($0)" } ?? "@\(entry.digest)")
                return FleetJob(
                    name: name, source: OCILayoutSource(directory: listing.directory, entry: entry, displayName: name),
                    repository: repository, tag: tag)
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listing: self) }
}
