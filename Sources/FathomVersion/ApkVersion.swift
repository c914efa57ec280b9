// Alpine package versions, ordered as current apk-tools orders them (the rewritten version
// comparison of apk-tools 2.12 and 3.x, which every supported Alpine release runs):
//   digits{.digits}…{letter}{_suffix{digits}}…{~hexhash}{-rdigits}
// Compared token by token. A dotted component with a leading zero compares as text (so 8.2.0 <
// 8.2.001 < 8.2.01), other numbers as numbers; suffixes rank alpha < beta < pre < rc < (none) <
// cvs < svn < git < hg < p; a commit hash compares as text. When one version runs out first,
// the longer one is greater unless what it has next is a pre-release suffix (1.0_alpha < 1.0).

/// Alpine package versions.
public struct ApkVersion: VersionComparator {
    public let ecosystem = "apk"
    public init() {}

    /// Token kinds in the order a version may hold them; a later kind cannot come back to an
    /// earlier one (except digits after a letter's component and suffix numbers).
    enum Kind: Int, Comparable {
        case firstNumber, number, letter, suffix, suffixNumber, commitHash, revision, end, invalid
        static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Suffix ranks; `nil` (no suffix) sits between the pre-release and the post-release ones.
    static let suffixRanks: [String: Int] = ["alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9]
    static let releaseRank = 4

    struct Token {
        var kind: Kind
        var text: ArraySlice<UInt8> = []
        var number: UInt64 = 0
        var suffixRank = 0
    }

    /// Reads one version token after token.
    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var current = Token(kind: .firstNumber)

        init(_ version: String) {
            bytes = Array(version.utf8)
            current = Token(kind: .firstNumber)
            readDigits()
        }

        static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
        static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x66) }

        private mutating func readDigits() {
            let start = index
            var number: UInt64 = 0
            while index < bytes.count, Self.isDigit(bytes[index]) {
                number = number &* 10 &+ UInt64(bytes[index] - 0x30)
                index += 1
            }
            current.text = bytes[start..<index]
            current.number = number
            if index == start { current.kind = .invalid }
        }

        /// Moves to the next token, checking that it may follow the current one.
        mutating func advance() {
            guard index < bytes.count else {
                current.kind = .end
                return
            }
            let previous = current.kind
            let c = bytes[index]
            if Self.isLower(c) {
                guard previous <= .number else { return invalidate() }
                current = Token(kind: .letter, text: bytes[index..<index + 1], number: UInt64(c))
                index += 1
            } else if c == UInt8(ascii: ".") || Self.isDigit(c) {
                if c == UInt8(ascii: ".") {
                    guard previous <= .number else { return invalidate() }
                    index += 1
                }
                switch previous {
                case .firstNumber, .number: current.kind = .number
                case .suffix: current.kind = .suffixNumber
                default: return invalidate()
                }
                readDigits()
            } else if c == UInt8(ascii: "_") {
                guard previous <= .suffixNumber else { return invalidate() }
                index += 1
                let start = index
                while index < bytes.count, Self.isLower(bytes[index]) { index += 1 }
                guard let rank = ApkVersion.suffixRanks[String(decoding: bytes[start..<index], as: UTF8.self)] else { return invalidate() }
                current = Token(kind: .suffix, text: bytes[start..<index], suffixRank: rank)
            } else if c == UInt8(ascii: "~") {
                guard previous < .commitHash else { return invalidate() }
                index += 1
                let start = index
                while index < bytes.count, Self.isHex(bytes[index]) { index += 1 }
                guard index > start else { return invalidate() }
                current = Token(kind: .commitHash, text: bytes[start..<index])
            } else if c == UInt8(ascii: "-") {
                guard previous < .revision, index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "r") else { return invalidate() }
                index += 2
                current.kind = .revision
                readDigits()
            } else {
                invalidate()
            }
        }

        private mutating func invalidate() { current.kind = .invalid }
    }

    /// Compares two tokens of the same kind.
    static func compareTokens(_ a: Token, _ b: Token) -> ComparisonResult {
        switch a.kind {
        case .number where a.text.first == 0x30 || b.text.first == 0x30:
            return compareText(a.text, b.text)
        case .firstNumber, .number, .suffixNumber, .revision, .letter:
            return a.number < b.number ? .less : a.number > b.number ? .greater : .equal
        case .suffix:
            return a.suffixRank < b.suffixRank ? .less : a.suffixRank > b.suffixRank ? .greater : .equal
        default:
            return compareText(a.text, b.text)
        }
    }

    /// Byte order, a shorter prefix first.
    static func compareText(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> ComparisonResult {
        for (x, y) in zip(a, b) where x != y { return x < y ? .less : .greater }
        return a.count < b.count ? .less : a.count > b.count ? .greater : .equal
    }

    /// Whether apk-tools accepts the version (`apk version --check`). Invalid versions still
    /// compare, the way apk-tools compares them.
    public static func isValid(_ version: String) -> Bool {
        var scanner = Scanner(version)
        while scanner.current.kind < .end { scanner.advance() }
        return scanner.current.kind == .end
    }

    /// An installed version must be one apk-tools accepts: it compares a malformed one only up to
    /// its first invalid token, so `6.6.2p1` would equal `6.6.2p9` and be "fixed" by either.
    /// Such a package is in no advisory's range, and coverage names it as a gap.
    public func validate(_ installed: String) throws {
        guard Self.isValid(installed) else {
            throw VersionError(ecosystem: ecosystem, version: installed, reason: "apk-tools rejects it (apk version --check)")
        }
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        guard !lhs.isEmpty, !rhs.isEmpty else {
            throw VersionError(ecosystem: ecosystem, version: lhs.isEmpty ? lhs : rhs, reason: "it is empty")
        }
        var a = Scanner(lhs)
        var b = Scanner(rhs)
        while a.current.kind == b.current.kind && a.current.kind < .end {
            let order = Self.compareTokens(a.current, b.current)
            if order != .equal { return order }
            a.advance()
            b.advance()
        }
        let (x, y) = (a.current, b.current)
        if x.kind == y.kind { return .equal }
        // The version that goes on is greater, unless it goes on with a pre-release suffix.
        if x.kind == .suffix && x.suffixRank < Self.releaseRank { return .less }
        if y.kind == .suffix && y.suffixRank < Self.releaseRank { return .greater }
        return x.kind > y.kind ? .less : .greater
    }
}
