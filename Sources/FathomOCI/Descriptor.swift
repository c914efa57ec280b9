// https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md
public import FathomCore

/// A content descriptor: what a blob is, its digest and its size.
public struct Descriptor: Hashable, Sendable, Codable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?
    public var artifactType: String?

    public init(
        mediaType: MediaType, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
    }

    /// The annotation OCI layouts use to name a tag.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}
