// DEFLATE for whole, small buffers (ZIP members, zlib-wrapped ELF sections), on zlib.
import CFathomZlib
import FathomCore

/// One-shot inflation with an output cap.
public enum Inflate {
    public enum Wrapper: Sendable {
        /// RFC 1951 DEFLATE with no header, as ZIP stores it.
        case raw
        /// RFC 1950 zlib.
        case zlib
    }

    /// Inflates `input`, refusing output larger than `limit` bytes.
    public static func inflate(_ input: ArraySlice<UInt8>, wrapper: Wrapper, expectedSize: Int = 0, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard CFathomZlib_inflateInit2(&stream, wrapper == .raw ? -15 : 15) == Z_OK else {
            throw FathomError(.corruptCompression, "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: min(max(expectedSize, 4096), limit))
        var produced = 0
        try input.withUnsafeBytes { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(source.count)
            while true {
                if produced == output.count {
                    guard output.count < limit else { throw FathomError(.limitExceeded, "data inflates past \(limit) bytes") }
                    output += [UInt8](repeating: 0, count: min(output.count, limit - output.count))
                }
                let status = output.withUnsafeMutableBytes { buffer -> Int32 in
                    stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                    stream.avail_out = uInt(buffer.count - produced)
                    let status = CFathomZlib.inflate(&stream, Z_NO_FLUSH)
                    produced = buffer.count - Int(stream.avail_out)
                    return status
                }
                if status == Z_STREAM_END { break }
                guard status == Z_OK || (status == Z_BUF_ERROR && stream.avail_out == 0) else {
                    throw FathomError(.corruptCompression, "deflate data is corrupt: \(String(cString: zError(status)))")
                }
                if stream.avail_in == 0 && stream.avail_out > 0 {
                    throw FathomError(.truncated, "deflate data ends early")
                }
            }
        }
        return Array(output.prefix(produced))
    }
}
