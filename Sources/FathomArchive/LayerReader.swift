public import FathomCore

/// What a layer's bytes are expected to be. The digest and size come from the descriptor; a
/// legacy `docker save` archive names layers by their uncompressed digest (diffID) instead.
public struct LayerExpectation: Sendable, Hashable {
    public var digest: Digest?
    public var size: Int64?
    public var diffID: Digest?

    public init(digest: Digest?, size: Int64?, diffID: Digest? = nil) {
        self.digest = digest
        self.size = size
        self.diffID = diffID
    }
}

/// What reading a layer measured. Returned only after every check passed.
public struct LayerReadSummary: Sendable, Hashable, Codable {
    /// The digest of the blob as read (equal to the expected digest).
    public var digest: Digest
    /// The compression the bytes showed (the media type only suggests it).
    public var compression: LayerCompression
    public var compressedSize: Int64
    public var uncompressedSize: Int64
    /// Tar entries (directories, links, files…), as `tar -t` lists them.
    public var entryCount: Int
    /// Regular files.
    public var fileCount: Int

    public init(
        digest: Digest, compression: LayerCompression, compressedSize: Int64, uncompressedSize: Int64, entryCount: Int,
        fileCount: Int
    ) {
        self.digest = digest
        self.compression = compression
        self.compressedSize = compressedSize
        self.uncompressedSize = uncompressedSize
        self.entryCount = entryCount
        self.fileCount = fileCount
    }
}

/// Streams one layer blob through the digest check, the decoder and the tar walk.
///
/// Nothing the handler learned may be trusted until this returns: a digest or size mismatch,
/// a truncated blob or a corrupt stream throws, and the caller must then discard what the
/// handler gathered (that is how nothing unverified is cached).
public enum LayerReader {
    /// Reads `blob`; past any of `limits` it stops decoding (a bomb is not decoded to the end)
    /// and fails with `limitExceeded` once the rest of the blob has been hashed: a limit is
    /// reported only for the bytes the digest promised, and damage in transit (a flipped byte
    /// can make a header claim anything) stays a digest mismatch, which is read again.
    public static func read<Handler: TarEntryHandler>(
        _ blob: ByteStream, expecting expectation: LayerExpectation, limits: ReadLimits = .default, handler: inout Handler
    ) async throws -> LayerReadSummary {
        var blobHasher = DigestHasher()
        var diffHasher: DigestHasher? = expectation.diffID == nil ? nil : DigestHasher()
        var decoder: (any StreamDecoder)?
        var compression = LayerCompression.uncompressed
        var tar = TarStreamParser(maxEntries: limits.layerEntries, maxEntrySize: limits.layerBytes)
        var uncompressed: Int64 = 0
        var sniffBuffer: [UInt8] = []
        // A decode failure is kept while the rest of the blob is hashed: if the digest is also
        // wrong, the blob was damaged in transit and that is the cause worth reporting.
        var decodeError: (any Error)?

        func checkExpansion() throws {
            if uncompressed > limits.layerBytes {
                throw FathomError(
                    .limitExceeded,
                    "the layer expands past \(ReadLimits.describe(limits.layerBytes)) (--max-layer-bytes); stopped decoding it",
                    layer: expectation.digest?.description)
            }
            let ratio = uncompressed / max(1, blobHasher.count)
            if uncompressed > ReadLimits.ratioFloor, compression != .uncompressed, ratio > limits.expansionRatio {
                throw FathomError(
                    .limitExceeded,
                    "the layer expanded \(blobHasher.count) compressed bytes to \(ReadLimits.describe(uncompressed)) (\(ratio):1, over --max-expansion-ratio \(limits.expansionRatio)): a decompression bomb; stopped decoding it",
                    layer: expectation.digest?.description)
            }
        }

        func decode(_ bytes: UnsafeRawBufferPointer) throws {
            guard let decoder, decodeError == nil else { return }
            do {
                try decoder.decode(bytes) { output in
                    uncompressed += Int64(output.count)
                    try checkExpansion()
                    diffHasher?.update(output)
                    try tar.feed(output, handler: &handler)
                }
            } catch {
                decodeError = error
            }
        }

        for try await chunk in blob {
            try Task.checkCancellation()
            blobHasher.update(chunk)
            if let size = expectation.size, blobHasher.count > size {
                throw FathomError(
                    .sizeMismatch, "the blob is larger than the \(size) bytes its descriptor states",
                    layer: expectation.digest?.description)
            }
            if decoder == nil {
                sniffBuffer.append(contentsOf: chunk)
                if sniffBuffer.count < 4 { continue }
                compression = LayerCompression.sniff(sniffBuffer)
                decoder = try compression.makeDecoder()
                let buffered = sniffBuffer
                sniffBuffer = []
                try buffered.withUnsafeBytes { try decode($0) }
            } else {
                try chunk.withUnsafeBytes { try decode($0) }
            }
        }
        if decoder == nil {
            compression = LayerCompression.sniff(sniffBuffer)
            decoder = try compression.makeDecoder()
            try sniffBuffer.withUnsafeBytes { try decode($0) }
        }

        let layer = expectation.digest?.description
        let digest = blobHasher.finalize()
        if let size = expectation.size, blobHasher.count < size {
            throw FathomError(
                .truncated, "the blob ended after \(blobHasher.count) of \(size) bytes", layer: layer, cause: decodeError)
        }
        if let expected = expectation.digest, digest != expected {
            throw FathomError(
                .digestMismatch, "the blob's content hashes to \(digest)", layer: layer, cause: decodeError)
        }
        do {
            if let decodeError { throw decodeError }
            try decoder?.finish()
            try tar.finish()
        } catch var error as FathomError {
            error.layer = error.layer ?? layer ?? digest.description
            throw error
        }
        if let expected = expectation.diffID, let actual = diffHasher?.finalize(), actual != expected {
            throw FathomError(
                .digestMismatch, "the uncompressed layer hashes to \(actual), but the image config says \(expected)",
                layer: layer ?? expected.description)
        }
        return LayerReadSummary(
            digest: digest, compression: compression, compressedSize: blobHasher.count,
            uncompressedSize: uncompressed, entryCount: tar.entryCount, fileCount: tar.fileCount)
    }
}
