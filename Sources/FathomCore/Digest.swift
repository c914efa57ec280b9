// https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests
import Crypto

/// A validated content digest, `algorithm:encoded`.
///
/// Only `sha256` and `sha512` are accepted, with lower-case hex of the right length, as the OCI
/// image spec registers them; anything else is rejected at the boundary.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The registered algorithms.
    public enum Algorithm: String, Sendable, Codable {
        case sha256
        case sha512
        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// Lower-case hex.
    public let encoded: String

    /// Parses `sha256:<64 hex>`; throws `FathomError.Code.invalidInput` on anything else.
    public init(parsing string: some StringProtocol) throws {
        let text = String(string)
        guard let colon = text.firstIndex(of: ":") else {
            throw FathomError(.invalidInput, "digest '\(text)' has no algorithm prefix (expected sha256:<hex>)")
        }
        guard let algorithm = Algorithm(rawValue: String(text[..<colon])) else {
            throw FathomError(.invalidInput, "digest '\(text)' uses an unsupported algorithm")
        }
        let hex = text[text.index(after: colon)...]
        guard hex.utf8.count == algorithm.hexLength,
            hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw FathomError(
                .invalidInput, "digest '\(text)' is not \(algorithm.hexLength) lower-case hex characters")
        }
        self.algorithm = algorithm
        self.encoded = String(hex)
    }

    /// The SHA-256 digest of `bytes`.
    public static func sha256(of bytes: some Sequence<UInt8>) -> Digest {
        var hasher = DigestHasher()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    init(sha256Hex: String) {
        self.algorithm = .sha256
        self.encoded = sha256Hex
    }

    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    /// The first 12 hex characters, as `docker images` shows them.
    public var short: String { String(encoded.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(parsing: try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Streaming SHA-256 over bytes as they pass by (swift-crypto, which uses the CPU's SHA extensions).
public struct DigestHasher: Sendable {
    private var hash = SHA256()
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        let hex = hash.finalize().map { byte in
            let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        return Digest(sha256Hex: hex)
    }
}
