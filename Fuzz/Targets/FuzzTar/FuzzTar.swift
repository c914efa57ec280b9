// The tar reader on arbitrary bytes, fed in chunks split where the first byte says: it may throw
// (a corrupt header, a truncated entry, a limit), never trap or hang.
import FathomArchive
import FathomCore
import FuzzSupport

struct Collector: TarEntryHandler {
    var entries = 0
    mutating func claim(_ entry: TarEntry) -> TarBodyClaim {
        entries += 1
        return entries.isMultiple(of: 2) ? .collect(limit: 1 << 16) : .stream
    }
    mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws {}
    mutating func receiveChunk(_ entry: TarEntry, _ bytes: UnsafeRawBufferPointer) throws {}
    mutating func endOfBody(_ entry: TarEntry) throws {}
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let first = bytes.first else { return 0 }
    let chunk = max(1, Int(first) * 7)
    var parser = TarStreamParser(maxEntries: 10_000, maxEntrySize: 1 << 30)
    var collector = Collector()
    do {
        var offset = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try bytes[offset..<end].withUnsafeBytes { try parser.feed($0, handler: &collector) }
            offset = end
        }
        try parser.finish()
    } catch {}
    return 0
}

@_cdecl("FuzzTar_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
