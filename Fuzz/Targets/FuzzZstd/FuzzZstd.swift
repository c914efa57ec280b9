// The zstd decoder on arbitrary bytes: it may throw, never trap; output is counted, not kept,
// and a stream that expands past 64 MiB is stopped (a bomb is the read limits' job).
import FathomArchive
import FathomCore
import FuzzSupport

struct Enough: Error {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    do {
        let decoder = try LayerCompression.zstd.makeDecoder()
        var produced = 0
        let chunk = max(1, bytes.count / 3)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try bytes[offset..<end].withUnsafeBytes { input in
                try decoder.decode(input) { output in
                    produced += output.count
                    if produced > 64 << 20 { throw Enough() }
                }
            }
            offset = end
        }
        try decoder.finish()
    } catch {}
    return 0
}

@_cdecl("FuzzZstd_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
