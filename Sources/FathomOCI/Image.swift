public import FathomCore

/// One layer of a resolved image, in order from the base up.
public struct ImageLayer: Sendable, Hashable, Codable {
    public var mediaType: MediaType
    /// The blob digest, when the source states it (a legacy `docker save` archive does not).
    public var digest: Digest?
    public var size: Int64
    /// The uncompressed digest from the image config (`rootfs.diff_ids`).
    public var diffID: Digest?
    public var urls: [String]?
    /// Where the source keeps the blob when no digest names it (a legacy `docker save` member).
    public var sourcePath: String?

    public init(
        mediaType: MediaType, digest: Digest?, size: Int64, diffID: Digest?, urls: [String]? = nil, sourcePath: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.diffID = diffID
        self.urls = urls
        self.sourcePath = sourcePath
    }

    /// The identity to cache the layer's facts under: the blob digest, else the diffID.
    public var cacheKey: Digest? { digest ?? diffID }
}

/// An image, resolved down to one platform's manifest, config and layers.
public struct ResolvedImage: Sendable {
    /// The reference as fathom names it in reports and errors.
    public var name: String
    /// The digest of the index the image was selected from, if any.
    public var indexDigest: Digest?
    /// The digest of the platform manifest (absent for legacy `docker save` archives, which
    /// hold no manifest).
    public var manifestDigest: Digest?
    public var manifestMediaType: MediaType?
    public var configDigest: Digest
    public var config: ImageConfig
    public var platform: Platform?
    public var layers: [ImageLayer]
    /// Tags the source records for the image (`RepoTags`, `org.opencontainers.image.ref.name`).
    public var repoTags: [String]

    public init(
        name: String, indexDigest: Digest? = nil, manifestDigest: Digest?, manifestMediaType: MediaType?,
        configDigest: Digest, config: ImageConfig, platform: Platform?, layers: [ImageLayer], repoTags: [String] = []
    ) {
        self.name = name
        self.indexDigest = indexDigest
        self.manifestDigest = manifestDigest
        self.manifestMediaType = manifestMediaType
        self.configDigest = configDigest
        self.config = config
        self.platform = platform
        self.layers = layers
        self.repoTags = repoTags
    }
}

extension ResolvedImage {
    /// Builds the layer list from a manifest and its config, checking they agree.
    public static func layers(of manifest: Manifest, config: ImageConfig) throws -> [ImageLayer] {
        let diffIDs = config.rootfs.diffIDs
        guard diffIDs.count == manifest.layers.count else {
            throw FathomError(
                .invalidManifest,
                "the manifest lists \(manifest.layers.count) layers but the config lists \(diffIDs.count) diff_ids")
        }
        return zip(manifest.layers, diffIDs).map { descriptor, diffID in
            ImageLayer(
                mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, diffID: diffID,
                urls: descriptor.urls)
        }
    }
}

