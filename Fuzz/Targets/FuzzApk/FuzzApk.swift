// apk's installed database: any bytes give packages and warnings, never a trap.
import FathomInventory
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = ApkAnalyzer().analyze(path: "lib/apk/db/installed", contents: fuzzBytes(data, size))
    return 0
}

@_cdecl("FuzzApk_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
