// The three rpmdb formats (BerkeleyDB `Packages`, ndb `Packages.db`, SQLite `rpmdb.sqlite`),
// chosen by the first byte, and the header blobs inside them: warnings, never a trap.
import FathomInventory
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let first = bytes.first else { return 0 }
    let paths = ["var/lib/rpm/Packages", "var/lib/rpm/Packages.db", "var/lib/rpm/rpmdb.sqlite"]
    _ = RpmAnalyzer().analyze(path: paths[Int(first) % paths.count], contents: Array(bytes.dropFirst()))
    return 0
}

@_cdecl("FuzzRpm_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
