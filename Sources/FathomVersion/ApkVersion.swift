// apk-tools version ordering (apk_version.c): digits separated by '.', an optional letter,
// `_suffix[N]` (alpha, beta, pre, rc sort before the release; cvs, svn, git, hg, p after),
// and `-rN`. Leading zeros after a '.' make the component compare as a fraction.

/// Alpine package versions.
public struct ApkVersion: VersionComparator {
    public let ecosystem = "apk"
    public init() {}

    enum Token: Int, Comparable {
        case invalid = -1
        case digitOrZero = 0
        case digit
        case letter
        case suffix
        case suffixNumber
        case revisionNumber
        case end

        static func < (lhs: Token, rhs: Token) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    static let preSuffixes = ["alpha", "beta", "pre", "rc"].map { Array($0.utf8) }
    static let postSuffixes = ["cvs", "svn", "git", "hg", "p"].map { Array($0.utf8) }

    struct Cursor {
        var bytes: [UInt8]
        var index = 0
        var remaining: Int { bytes.count - index }
        func at(_ offset: Int) -> UInt8 { index + offset < bytes.count ? bytes[index + offset] : 0 }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    static func isLower(_ c: UInt8) -> Bool { c >= 97 && c <= 122 }

    static func nextToken(_ type: inout Token, _ cursor: inout Cursor) {
        var next = Token.invalid
        if cursor.remaining == 0 || cursor.at(0) == 0 {
            next = .end
        } else if (type == .digit || type == .digitOrZero) && isLower(cursor.at(0)) {
            next = .letter
        } else if type == .letter && isDigit(cursor.at(0)) {
            next = .digit
        } else if type == .suffix && isDigit(cursor.at(0)) {
            next = .suffixNumber
        } else {
            switch cursor.at(0) {
            case UInt8(ascii: "."): next = .digitOrZero
            case UInt8(ascii: "_"): next = .suffix
            case UInt8(ascii: "-"):
                if cursor.remaining > 1 && cursor.at(1) == UInt8(ascii: "r") {
                    next = .revisionNumber
                    cursor.index += 1
                }
            default: break
            }
            cursor.index += 1
        }
        if next < type {
            if !((next == .digitOrZero && type == .digit) || (next == .suffix && type == .suffixNumber)
                || (next == .digit && type == .letter))
            {
                next = .invalid
            }
        }
        type = next
    }

    static func getToken(_ type: inout Token, _ cursor: inout Cursor) -> Int {
        var value = 0
        var length = 0
        var nextType = Token.invalid
        if cursor.remaining <= 0 {
            type = .end
            return 0
        }
        switch type {
        case .digitOrZero where cursor.at(0) == UInt8(ascii: "0"):
            // Leading zeros: the component compares as a fraction (1.01 < 1.1).
            while length < cursor.remaining && cursor.at(length) == UInt8(ascii: "0") { length += 1 }
            nextType = .digit
            value = -length
        case .digitOrZero, .digit, .suffixNumber, .revisionNumber:
            while length < cursor.remaining && isDigit(cursor.at(length)) {
                value = value &* 10 &+ Int(cursor.at(length) - 48)
                length += 1
            }
        case .letter:
            value = Int(cursor.at(0))
            length = 1
        case .suffix:
            let rest = Array(cursor.bytes[cursor.index...])
            if let index = preSuffixes.firstIndex(where: { rest.starts(with: $0) }) {
                value = index - preSuffixes.count
                length = preSuffixes[index].count
            } else if let index = postSuffixes.firstIndex(where: { rest.starts(with: $0) }) {
                value = index
                length = postSuffixes[index].count
            } else {
                type = .invalid
                return -1
            }
        default:
            type = .invalid
            return -1
        }
        cursor.index += length
        if cursor.remaining == 0 {
            type = .end
        } else if nextType != .invalid {
            type = nextType
        } else {
            nextToken(&type, &cursor)
        }
        return value
    }

    /// Whether apk-tools accepts the version (`apk_version_validate`). Invalid versions still
    /// compare, but their order differs between apk-tools releases.
    public static func isValid(_ version: String) -> Bool {
        var cursor = Cursor(bytes: Array(version.utf8))
        var type = Token.digit
        while type != .end && type != .invalid { _ = getToken(&type, &cursor) }
        return type == .end
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        guard !lhs.isEmpty, !rhs.isEmpty else {
            throw VersionError(ecosystem: ecosystem, version: lhs.isEmpty ? lhs : rhs, reason: "it is empty")
        }
        var a = Cursor(bytes: Array(lhs.utf8))
        var b = Cursor(bytes: Array(rhs.utf8))
        var aType = Token.digit
        var bType = Token.digit
        var aValue = 0
        var bValue = 0
        while aType == bType && aType != .end && aType != .invalid && aValue == bValue {
            aValue = Self.getToken(&aType, &a)
            bValue = Self.getToken(&bType, &b)
        }
        if aValue < bValue { return .less }
        if aValue > bValue { return .greater }
        if aType == bType { return .equal }
        // The longer version wins, unless what it has more of is a pre-release suffix.
        var probe = aType
        if aType == .suffix, Self.getToken(&probe, &a) < 0 { return .less }
        probe = bType
        if bType == .suffix, Self.getToken(&probe, &b) < 0 { return .greater }
        if aType > bType { return .less }
        if bType > aType { return .greater }
        return .equal
    }
}
