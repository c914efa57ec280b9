// dpkg's status file and a status.d entry: any bytes give packages and warnings, never a trap.
import FathomInventory
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    _ = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: bytes)
    _ = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status.d/base", contents: bytes)
    return 0
}

@_cdecl("FuzzDpkg_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
