// RFC 8878 (Zstandard), decoded by libzstd's streaming API. Several frames in a row and
// skippable frames are handled by libzstd itself.
import CFathomZstd
import FathomCore

/// Streaming zstd decoder owning one `ZSTD_DStream` for its lifetime.
final class ZstdDecoder: StreamDecoder {
    private let stream: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    /// libzstd's last hint: 0 once a frame is complete and nothing is pending.
    private var pending: Int = 1
    private var sawInput = false

    init() throws {
        guard let stream = ZSTD_createDStream() else {
            throw FathomError(.corruptCompression, "ZSTD_createDStream failed (out of memory)")
        }
        self.stream = stream
        output = .allocate(byteCount: decoderOutputCapacity, alignment: 16)
        let status = ZSTD_initDStream(stream)
        if ZSTD_isError(status) != 0 {
            ZSTD_freeDStream(stream)
            output.deallocate()
            throw FathomError(.corruptCompression, "ZSTD_initDStream failed: \(String(cString: ZSTD_getErrorName(status)))")
        }
    }

    deinit {
        ZSTD_freeDStream(stream)
        output.deallocate()
    }

    func decode(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, !input.isEmpty else { return }
        sawInput = true
        var inBuffer = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while true {
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let status = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
            if ZSTD_isError(status) != 0 {
                throw FathomError(.corruptCompression, "zstd stream is corrupt: \(String(cString: ZSTD_getErrorName(status)))")
            }
            pending = status
            if outBuffer.pos > 0 { try sink(UnsafeRawBufferPointer(start: output.baseAddress, count: outBuffer.pos)) }
            // Done with this input once it is consumed and the output buffer was not filled
            // (a full buffer means libzstd may hold more output).
            if inBuffer.pos == inBuffer.size && outBuffer.pos < outBuffer.size { break }
        }
    }

    func finish() throws {
        guard sawInput else { throw FathomError(.truncated, "zstd stream is empty") }
        guard pending == 0 else { throw FathomError(.truncated, "zstd stream ends in the middle of a frame") }
    }
}
