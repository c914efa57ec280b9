// gzip for whole, small buffers (fathom's own advisory export), on zlib.
import CFathomZlib
import FathomCore

/// One-shot gzip compression and decompression of buffers held in memory.
public enum Gzip {
    /// `input` as one gzip member. The same input gives the same bytes (no name, no time).
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: a gzip wrapper with the default window.
        guard CFathomZlib_deflateInit2(&stream, level, 15 + 16) == Z_OK else {
            throw FathomError(.corruptCompression, "deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var produced = 0
        let status = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { buffer -> Int32 in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(source.count)
                stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(buffer.count)
                let status = deflate(&stream, Z_FINISH)
                produced = buffer.count - Int(stream.avail_out)
                return status
            }
        }
        guard status == Z_STREAM_END else {
            throw FathomError(.corruptCompression, "gzip compression failed: \(String(cString: zError(status)))")
        }
        return Array(output.prefix(produced))
    }

    /// The content of a gzip stream (every member), refusing more than `limit` bytes of output.
    public static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        let decoder = try LayerCompression.gzip.makeDecoder()
        var output: [UInt8] = []
        try input.withUnsafeBytes { source in
            try decoder.decode(source) { chunk in
                guard output.count + chunk.count <= limit else {
                    throw FathomError(.limitExceeded, "gzip data expands past \(limit) bytes")
                }
                output.append(contentsOf: chunk)
            }
        }
        try decoder.finish()
        return output
    }
}
