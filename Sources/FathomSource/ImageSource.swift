public import FathomArchive
public import FathomCore
public import FathomOCI

/// Something images can be read from: a registry, an OCI layout, a `docker save` archive.
public protocol ImageSource: Sendable {
    /// How the user named the image, for reports and errors.
    var displayName: String { get }
    /// Resolves the image (selecting `platform` from an index) to its manifest, config and layers.
    func resolve(platform: Platform) async throws -> ResolvedImage
    /// Streams a layer's blob to `body`; the stream is valid only inside `body`.
    func withLayer<Result>(
        _ layer: ImageLayer, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result
}

/// Reads a document (manifest, index, config) from `bytes` after checking its digest.
func verified(_ bytes: [UInt8], _ descriptor: Descriptor, what: String) throws -> [UInt8] {
    guard Int64(bytes.count) == descriptor.size else {
        throw FathomError(
            .sizeMismatch, "the \(what) is \(bytes.count) bytes, its descriptor says \(descriptor.size)",
            path: descriptor.digest.description)
    }
    let actual = Digest.sha256(of: bytes)
    guard actual == descriptor.digest else {
        throw FathomError(.digestMismatch, "the \(what) hashes to \(actual), expected \(descriptor.digest)")
    }
    return bytes
}

extension ImageLayer {
    /// What the reader checks the bytes against. A layer named only by diffID has its
    /// uncompressed bytes hashed instead.
    public var expectation: LayerExpectation {
        // A layer with neither digest nor diffID is one a source makes as it reads (`rootfs:`):
        // there is nothing to check it against, and it is never cached (it has no cache key).
        LayerExpectation(digest: digest, size: digest == nil && diffID == nil ? nil : size, diffID: digest == nil ? diffID : nil)
    }
}
