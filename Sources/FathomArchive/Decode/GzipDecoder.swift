// RFC 1952 (gzip), decoded by zlib's inflate. Multi-member streams (pigz, concatenated gzip)
// are decoded member after member, as `gzip -dc` does.
import CFathomZlib
import FathomCore

/// Streaming gzip decoder. Owns one `z_stream` at a fixed address for its lifetime
/// (compress-nio's `Zlib.swift` pattern) and is used by one task at a time.
final class GzipDecoder: StreamDecoder {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    /// True between the end of one member and the start of the next (or the end of input).
    private var betweenMembers = false
    private var sawInput = false

    init() throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: decoderOutputCapacity, alignment: 16)
        // 15 + 16: a 32 KiB window, gzip header and trailer (CRC-32 and length are checked).
        let status = CFathomZlib_inflateInit2(stream, 15 + 16)
        guard status == Z_OK else {
            stream.deallocate()
            output.deallocate()
            throw FathomError(.corruptCompression, "zlib inflateInit2 failed: \(Self.describe(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    func decode(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, !input.isEmpty else { return }
        sawInput = true
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while stream.pointee.avail_in > 0 {
            if betweenMembers {
                // Another member follows, or zero padding some tools append after the last one.
                let next = stream.pointee.next_in!.pointee
                if next == 0 {
                    let rest = UnsafeRawBufferPointer(start: stream.pointee.next_in, count: Int(stream.pointee.avail_in))
                    guard rest.allSatisfy({ $0 == 0 }) else {
                        throw FathomError(.corruptCompression, "unexpected bytes after the end of the gzip stream")
                    }
                    stream.pointee.avail_in = 0
                    return
                }
                guard next == 0x1f else {
                    throw FathomError(.corruptCompression, "unexpected bytes after the end of the gzip stream")
                }
                inflateReset(stream)
                betweenMembers = false
            }
            let status = try inflateChunk(sink)
            if status == Z_STREAM_END { betweenMembers = true }
        }
    }

    /// Runs inflate until it needs more input or ends a member; returns the last status.
    private func inflateChunk(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int32 {
        while true {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 { try sink(UnsafeRawBufferPointer(start: output.baseAddress, count: produced)) }
            switch status {
            case Z_OK:
                if stream.pointee.avail_out != 0 && stream.pointee.avail_in == 0 { return status }
            case Z_STREAM_END:
                return status
            case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                // No progress possible until more input arrives: not an error mid-stream.
                return status
            default:
                throw FathomError(.corruptCompression, "gzip stream is corrupt: \(describe(status))")
            }
        }
    }

    func finish() throws {
        guard betweenMembers else {
            throw FathomError(
                .truncated,
                sawInput ? "gzip stream ends in the middle of a member" : "gzip stream is empty")
        }
    }

    private func describe(_ status: Int32) -> String {
        if let message = stream.pointee.msg { return "\(String(cString: message)) (\(Self.describe(status)))" }
        return Self.describe(status)
    }

    static func describe(_ status: Int32) -> String {
        String(cString: zError(status))
    }
}
