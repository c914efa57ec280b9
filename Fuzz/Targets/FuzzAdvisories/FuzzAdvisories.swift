// The advisory importers: OSV JSON, Alpine secdb as JSON and as YAML (the first byte chooses).
import FathomAdvisory
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let first = bytes.first else { return 0 }
    let rest = Array(bytes.dropFirst())
    switch first % 3 {
    case 0: _ = try? AdvisoryImport.osv(rest, file: "fuzz.json")
    case 1: _ = try? AdvisoryImport.alpineSecdb(rest, file: "fuzz.json")
    default: _ = try? AdvisoryImport.alpineSecdb(rest, file: "fuzz.yaml")
    }
    return 0
}

@_cdecl("FuzzAdvisories_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
