/// The bytes libFuzzer hands a target, as an array.
public func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Splits an input into `count` parts at `0x0A` bytes (the rest joins the last part).
public func fuzzParts(_ bytes: some Collection<UInt8>, _ count: Int) -> [String] {
    var parts = bytes.split(separator: 0x0A, maxSplits: count - 1, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    while parts.count < count { parts.append("") }
    return parts
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// Runs libFuzzer's driver on `target`. SwiftPM links an executable target's entry point as
/// `<Module>_main`, so each target defines that symbol and calls this, in place of libFuzzer's
/// own `main`.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ target: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, target)
}
