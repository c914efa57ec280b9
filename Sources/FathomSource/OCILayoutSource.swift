// https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
public import FathomCore
public import FathomOCI
import Foundation

/// An OCI image layout: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`, in a directory
/// (`oci:DIR[:tag]`) or inside a Docker 25+ `docker save` archive.
public struct OCILayoutSource: ImageSource {
    let storage: any LayoutStorage
    let tag: String?
    /// The index entry to resolve, already chosen (a fleet over the layout lists them once).
    let entry: Descriptor?
    public let displayName: String

    /// A layout in a directory; `tag` selects an index entry by its ref name annotation.
    public init(directory: String, tag: String? = nil) throws {
        guard isDirectory(directory) else {
            throw FathomError(.notFound, "no OCI layout directory at \(directory)", image: "oci:\(directory)")
        }
        self.init(storage: DirectoryStorage(root: directory), tag: tag, displayName: "oci:\(directory)" + (tag.map { ":\($0)" } ?? ""))
    }

    /// One entry of the layout's `index.json`, as `entries(directory:)` listed it: resolving
    /// it does not read the index again.
    public init(directory: String, entry: Descriptor, displayName: String) {
        self.init(storage: DirectoryStorage(root: directory), tag: nil, displayName: displayName, entry: entry)
    }

    init(storage: any LayoutStorage, tag: String?, displayName: String, entry: Descriptor? = nil) {
        self.storage = storage
        self.tag = tag
        self.entry = entry
        self.displayName = displayName
    }

    /// The entries of a layout directory's `index.json` (a layout exported from a registry
    /// holds one per tag; 100,000 entries are some 30 MB of JSON, hence the larger limit).
    public static func entries(directory: String) throws -> [Descriptor] {
        guard isDirectory(directory) else {
            throw FathomError(.notFound, "no OCI layout directory at \(directory)", image: "oci:\(directory)")
        }
        let storage = DirectoryStorage(root: directory)
        do {
            return try index(storage, limit: ByteLimits.layoutIndex).manifests
        } catch {
            throw FathomError.wrapping(error, image: "oci:\(directory)")
        }
    }

    static func index(_ storage: any LayoutStorage, limit: Int) throws -> Index {
        guard try storage.read("oci-layout", limit: 4096) != nil else {
            throw FathomError(.invalidManifest, "\(storage.location) has no oci-layout file: not an OCI image layout")
        }
        guard let indexBytes = try storage.read("index.json", limit: limit) else {
            throw FathomError(.invalidManifest, "\(storage.location) has no index.json")
        }
        guard case .index(let top) = try ManifestDocument.decode(indexBytes, mediaType: .ociIndex) else {
            throw FathomError(.invalidManifest, "index.json is not an image index")
        }
        return top
    }

    static func blobPath(_ digest: Digest) -> String { "blobs/\(digest.algorithm.rawValue)/\(digest.encoded)" }

    func readBlob(_ descriptor: Descriptor, what: String) throws -> [UInt8] {
        guard descriptor.size <= Int64(ByteLimits.document) else {
            throw FathomError(.limitExceeded, "the \(what) is \(descriptor.size) bytes, over the \(ByteLimits.document)-byte document limit")
        }
        guard let bytes = try storage.read(Self.blobPath(descriptor.digest), limit: ByteLimits.document) else {
            throw FathomError(.notFound, "the layout has no blob for the \(what) \(descriptor.digest)")
        }
        return try verified(bytes, descriptor, what: what)
    }

    public func resolve(platform: Platform) async throws -> ResolvedImage {
        do {
            return try resolveImage(platform: platform)
        } catch {
            throw FathomError.wrapping(error, image: displayName)
        }
    }

    private func resolveImage(platform: Platform) throws -> ResolvedImage {
        if let entry {
            let tag = entry.annotations?[Descriptor.refNameAnnotation]
            return try resolveEntry(entry, platform: platform, repoTags: tag.map { [$0] } ?? [])
        }
        let top = try Self.index(storage, limit: ByteLimits.document)
        var candidates = top.manifests
        var repoTags: [String] = []
        if let tag {
            candidates = top.manifests.filter { descriptor in
                guard let name = descriptor.annotations?[Descriptor.refNameAnnotation] else { return false }
                return name == tag || name.hasSuffix(":" + tag)
            }
            guard !candidates.isEmpty else {
                let names = top.manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
                throw FathomError(
                    .notFound,
                    "the layout has no image tagged '\(tag)'; it has \(names.isEmpty ? "no tagged images" : names.joined(separator: ", "))")
            }
            // A name that is the tag itself wins over names that end in it (`lay:3.7` for `3.7`).
            let exact = candidates.filter { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            if !exact.isEmpty { candidates = exact }
            let names = Set(candidates.compactMap { $0.annotations?[Descriptor.refNameAnnotation] })
            if names.count > 1 {
                throw FathomError(
                    .invalidInput,
                    "the layout has \(names.count) images whose names end in '\(tag)' (\(names.sorted().joined(separator: ", "))): choose one by its whole name")
            }
            repoTags = [tag]
        }
        let chosen: Descriptor
        if candidates.count == 1 {
            chosen = candidates[0]
        } else if candidates.count > 1, candidates.allSatisfy({ $0.platform == nil }) {
            // Several images, none for a platform: a tag, not --platform, chooses.
            let names = candidates.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
            if let tag {
                throw FathomError(.invalidInput, "the layout has \(candidates.count) images tagged '\(tag)' and names no platform for them: fathom cannot tell which to scan")
            }
            throw FathomError(
                .invalidInput,
                "the layout holds \(candidates.count) images and names no platform for them: choose one by its tag (\(displayName):TAG)"
                    + (names.isEmpty ? "; none is tagged" : "; it has \(names.joined(separator: ", "))"))
        } else {
            chosen = try Index(schemaVersion: 2, manifests: candidates).manifest(for: platform)
        }
        return try resolveEntry(chosen, platform: platform, repoTags: repoTags)
    }

    /// Resolves one index entry: an image manifest, or an index to pick `platform` from.
    private func resolveEntry(_ entry: Descriptor, platform: Platform, repoTags: [String]) throws -> ResolvedImage {
        var repoTags = repoTags
        var indexDigest: Digest?
        var chosen = entry
        // Nested indexes (an index entry pointing at a multi-platform index) are followed.
        for _ in 0..<4 where chosen.mediaType.isIndex {
            let bytes = try readBlob(chosen, what: "image index")
            guard case .index(let nested) = try ManifestDocument.decode(bytes, mediaType: chosen.mediaType) else {
                throw FathomError(.invalidManifest, "blob \(chosen.digest) is not an image index")
            }
            indexDigest = chosen.digest
            chosen = try nested.manifest(for: platform)
        }
        if let name = chosen.annotations?[Descriptor.refNameAnnotation], repoTags.isEmpty { repoTags = [name] }
        let manifestBytes = try readBlob(chosen, what: "manifest")
        guard case .manifest(let manifest) = try ManifestDocument.decode(manifestBytes, mediaType: chosen.mediaType) else {
            throw FathomError(.invalidManifest, "blob \(chosen.digest) is not an image manifest")
        }
        let config = try ImageConfig.decode(try readBlob(manifest.config, what: "image config"))
        return ResolvedImage(
            name: displayName, indexDigest: indexDigest, manifestDigest: chosen.digest,
            manifestMediaType: manifest.mediaType ?? chosen.mediaType, configDigest: manifest.config.digest,
            config: config, platform: config.platform ?? chosen.platform,
            layers: try ResolvedImage.layers(of: manifest, config: config), repoTags: repoTags)
    }

    public func withLayer<Result>(
        _ layer: ImageLayer, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result {
        guard let digest = layer.digest else {
            throw FathomError(.invalidManifest, "layer has no digest", image: displayName)
        }
        let stream: ByteStream
        do {
            stream = try storage.stream(Self.blobPath(digest))
        } catch {
            throw FathomError(
                .notFound, "the layout has no blob for this layer", image: displayName, layer: digest.description,
                cause: error)
        }
        return try await body(stream)
    }
}
