// Manifests, indexes and image configs as a registry or layout would serve them.
import FathomOCI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    _ = try? ManifestDocument.decode(bytes, mediaType: nil)
    _ = try? ManifestDocument.decode(bytes, mediaType: MediaType("application/vnd.oci.image.index.v1+json"))
    _ = try? ImageConfig.decode(bytes)
    return 0
}

@_cdecl("FuzzOCI_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
