/// How layer bytes are compressed (the media type suggests it; the archive reader sniffs it).
public enum LayerCompression: String, Sendable, Codable, Hashable {
    case uncompressed = "none"
    case gzip
    case zstd
}
