// deb-version(7): [epoch:]upstream_version[-debian_revision], compared as dpkg's verrevcmp.

/// Debian package versions.
public struct DpkgVersion: VersionComparator {
    public let ecosystem = "deb"
    public init() {}

    struct Parsed: Sendable {
        var epoch: Int
        var upstream: [UInt8]
        var revision: [UInt8]
    }

    func parse(_ text: String) throws -> Parsed {
        let trimmed = Array(text.utf8.drop { $0 == UInt8(ascii: " ") }.reversed().drop { $0 == UInt8(ascii: " ") }.reversed())
        guard !trimmed.isEmpty else { throw VersionError(ecosystem: ecosystem, version: text, reason: "it is empty") }
        var rest = trimmed[...]
        var epoch = 0
        if let colon = rest.firstIndex(of: UInt8(ascii: ":")) {
            let digits = rest[..<colon]
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), digits.count < 10,
                let value = Int(String(decoding: digits, as: UTF8.self))
            else { throw VersionError(ecosystem: ecosystem, version: text, reason: "the epoch is not a number") }
            epoch = value
            rest = rest[(colon + 1)...]
        }
        var upstream = rest
        var revision: ArraySlice<UInt8> = []
        if let dash = rest.lastIndex(of: UInt8(ascii: "-")) {
            upstream = rest[..<dash]
            revision = rest[(dash + 1)...]
        }
        guard let first = upstream.first, first >= 48 && first <= 57 else {
            throw VersionError(ecosystem: ecosystem, version: text, reason: "the upstream version must start with a digit")
        }
        return Parsed(epoch: epoch, upstream: Array(upstream), revision: Array(revision))
    }

    static let cache = ParseCache<Parsed>()

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try Self.cache.value(for: lhs) { try parse($0) }
        let b = try Self.cache.value(for: rhs) { try parse($0) }
        if a.epoch != b.epoch { return a.epoch < b.epoch ? .less : .greater }
        let upstream = Self.verrevcmp(a.upstream, b.upstream)
        if upstream != 0 { return .of(upstream) }
        return .of(Self.verrevcmp(a.revision, b.revision))
    }

    /// `~` sorts before everything, even the end; letters before other characters.
    static func order(_ byte: UInt8?) -> Int {
        guard let byte else { return 0 }
        if byte >= 48 && byte <= 57 { return 0 }
        if (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) { return Int(byte) }
        if byte == UInt8(ascii: "~") { return -1 }
        return Int(byte) + 256
    }

    static func verrevcmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 48 && $0 <= 57 } ?? false }
        var i = 0
        var j = 0
        func at(_ bytes: [UInt8], _ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }
        while i < a.count || j < b.count {
            var firstDifference = 0
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let ac = order(at(a, i))
                let bc = order(at(b, j))
                if ac != bc { return ac - bc }
                i += 1
                j += 1
            }
            while at(a, i) == UInt8(ascii: "0") { i += 1 }
            while at(b, j) == UInt8(ascii: "0") { j += 1 }
            while isDigit(at(a, i)) && isDigit(at(b, j)) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if isDigit(at(a, i)) { return 1 }
            if isDigit(at(b, j)) { return -1 }
            if firstDifference != 0 { return firstDifference }
        }
        return 0
    }
}
