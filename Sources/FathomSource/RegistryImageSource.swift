public import FathomCore
public import FathomOCI
public import FathomRegistry

/// An image in a registry, `host/repo:tag` or `host/repo@sha256:…`.
public struct RegistryImageSource: ImageSource {
    public let reference: ImageReference
    let client: RegistryClient
    let documents: (any DocumentCache)?

    public init(reference: ImageReference, client: RegistryClient, documents: (any DocumentCache)? = nil) {
        self.reference = reference
        self.client = client
        self.documents = documents
    }

    public var displayName: String { reference.description }

    public func resolve(platform: Platform) async throws -> ResolvedImage {
        do {
            var fetched = try await client.manifest(reference)
            var document = try ManifestDocument.decode(fetched.bytes, mediaType: fetched.mediaType)
            var indexDigest: Digest?
            var chosenPlatform: Platform?
            // An index (possibly nested) is narrowed to the wanted platform's manifest.
            for _ in 0..<4 {
                guard case .index(let index) = document else { break }
                indexDigest = fetched.digest
                let descriptor = try index.manifest(for: platform)
                chosenPlatform = descriptor.platform
                var byDigest = reference
                byDigest.digest = descriptor.digest
                fetched = try await client.manifest(byDigest)
                document = try ManifestDocument.decode(fetched.bytes, mediaType: descriptor.mediaType)
            }
            guard case .manifest(let manifest) = document else {
                throw FathomError(.invalidManifest, "the index nests deeper than fathom follows")
            }
            let config = try ImageConfig.decode(try await configBytes(manifest.config))
            return ResolvedImage(
                name: displayName, indexDigest: indexDigest, manifestDigest: fetched.digest,
                manifestMediaType: manifest.mediaType ?? fetched.mediaType, configDigest: manifest.config.digest,
                config: config, platform: config.platform ?? chosenPlatform,
                layers: try ResolvedImage.layers(of: manifest, config: config),
                repoTags: reference.tag.map { ["\(reference.registry)/\(reference.repository):\($0)"] } ?? [])
        } catch {
            throw FathomError.wrapping(error, image: displayName)
        }
    }

    /// The config from the cache when it holds those exact bytes, else from the registry.
    private func configBytes(_ descriptor: Descriptor) async throws -> [UInt8] {
        if let cached = try await documents?.document(descriptor.digest), Int64(cached.count) == descriptor.size,
            Digest.sha256(of: cached) == descriptor.digest
        {
            return cached
        }
        let bytes = try await client.smallBlob(reference, descriptor)
        if let documents {
            // Kept behind the scan: a busy store must not hold an image back, and a config not
            // kept is only fetched again next time.
            Task { try? await documents.storeDocument(bytes, digest: descriptor.digest) }
        }
        return bytes
    }

    public func withLayer<Result>(
        _ layer: ImageLayer, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result {
        guard let digest = layer.digest else {
            throw FathomError(.invalidManifest, "layer has no digest", image: displayName)
        }
        if layer.mediaType.isNondistributable, layer.urls?.isEmpty == false {
            // Foreign layers are usually not in the registry; fathom does not fetch third-party URLs.
            throw FathomError(
                .unsupported, "non-distributable layer served only from \(layer.urls?.first ?? "its URLs")",
                image: displayName, layer: digest.description)
        }
        do {
            return try await client.withBlob(reference, digest: digest, body)
        } catch {
            throw FathomError.wrapping(error, image: displayName, layer: digest.description)
        }
    }
}
