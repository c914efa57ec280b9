public import FathomCore
// https://github.com/opencontainers/image-spec/blob/v1.1.0/media-types.md
// https://github.com/distribution/distribution/blob/main/docs/content/spec/manifest-v2-2.md

/// A media type string, with the OCI and Docker types fathom reads as typed constants.
public struct MediaType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributable: MediaType = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociLayerNondistributableZstd: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerTar: MediaType = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerZstd: MediaType = "application/vnd.docker.image.rootfs.diff.tar.zstd"
    public static let dockerForeignLayerGzip: MediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// The manifest types fathom asks a registry for, in order of preference.
    public static let acceptedManifests: [MediaType] = [
        .ociIndex, .ociManifest, .dockerManifestList, .dockerManifest,
    ]

    /// An image index or Docker manifest list.
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    /// A single-platform image manifest.
    public var isManifest: Bool { self == .ociManifest || self == .dockerManifest }

    /// How a layer of this type is compressed, when the type says so.
    public var layerCompression: LayerCompression? {
        switch self {
        case .ociLayer, .dockerLayerTar, .ociLayerNondistributable: return .uncompressed
        case .ociLayerGzip, .dockerLayerGzip, .dockerForeignLayerGzip, .ociLayerNondistributableGzip: return .gzip
        case .ociLayerZstd, .dockerLayerZstd, .ociLayerNondistributableZstd: return .zstd
        default:
            if rawValue.hasSuffix("+gzip") || rawValue.hasSuffix(".tar.gzip") { return .gzip }
            if rawValue.hasSuffix("+zstd") || rawValue.hasSuffix(".tar.zstd") { return .zstd }
            if rawValue.hasSuffix(".tar") { return .uncompressed }
            return nil
        }
    }

    /// Foreign / non-distributable layers: the registry may not serve them (their `urls` do).
    public var isNondistributable: Bool {
        rawValue.contains(".nondistributable.") || rawValue.contains(".foreign.")
    }
}
