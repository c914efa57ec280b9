public import FathomCore

/// Turns compressed layer bytes into tar bytes, one input chunk at a time, handing every run of
/// output to `sink` before returning (so no more than one output buffer is ever held).
public protocol StreamDecoder: AnyObject {
    func decode(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Called once after the last input; throws `truncated` if the stream is incomplete.
    func finish() throws
}

/// Size of the reusable output buffer each decoder owns.
let decoderOutputCapacity = 256 * 1024

extension LayerCompression {
    /// The compression the first bytes of a blob show: gzip `1f 8b`, zstd `28 b5 2f fd` (or a
    /// skippable frame `5? 2a 4d 18`), anything else is taken as a plain tar.
    public static func sniff(_ prefix: some Collection<UInt8>) -> LayerCompression {
        let bytes = Array(prefix.prefix(4))
        if bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b { return .gzip }
        if bytes.count >= 4, bytes[1] == 0xb5, bytes[2] == 0x2f, bytes[3] == 0xfd, bytes[0] == 0x28 { return .zstd }
        if bytes.count >= 4, bytes[0] & 0xf0 == 0x50, bytes[1] == 0x2a, bytes[2] == 0x4d, bytes[3] == 0x18 {
            return .zstd
        }
        return .uncompressed
    }

    /// A fresh decoder for this compression.
    public func makeDecoder() throws -> any StreamDecoder {
        switch self {
        case .gzip: return try GzipDecoder()
        case .zstd: return try ZstdDecoder()
        case .uncompressed: return PassthroughDecoder()
        }
    }
}

/// Plain tar: the bytes are the tar stream.
final class PassthroughDecoder: StreamDecoder {
    public func decode(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if !input.isEmpty { try sink(input) }
    }
    public func finish() throws {}
}
