public import FathomCore

/// Small content-addressed documents (image configs) kept between runs, so that a known image
/// costs one manifest request. Readers check the bytes against their digest before use.
public protocol DocumentCache: Sendable {
    /// The bytes stored under `digest`, if any.
    func document(_ digest: Digest) async throws -> [UInt8]?
    /// Keeps `bytes` under `digest` (callers store only bytes they verified).
    func storeDocument(_ bytes: [UInt8], digest: Digest) async throws
}
