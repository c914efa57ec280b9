// rpm's version ordering: EVR compared field by field with rpmvercmp (rpmio/rpmvercmp.c
// semantics: alphanumeric segments, `~` before everything, `^` after the end but before more).

/// RPM `[epoch:]version[-release]` versions.
public struct RpmVersion: VersionComparator {
    public let ecosystem = "rpm"
    public init() {}

    struct Parsed {
        var epoch: Int
        var version: [UInt8]
        var release: [UInt8]?
    }

    func parse(_ text: String) throws -> Parsed {
        var rest = Array(text.utf8)[...]
        guard !rest.isEmpty else { throw VersionError(ecosystem: ecosystem, version: text, reason: "it is empty") }
        // As rpm's parseEVR: an epoch is a run of leading digits followed by ':' ("a:1" has none).
        var epoch = 0
        let digits = rest.prefix { $0 >= 48 && $0 <= 57 }
        if digits.endIndex < rest.endIndex, rest[digits.endIndex] == UInt8(ascii: ":") {
            guard digits.count < 10 else {
                throw VersionError(ecosystem: ecosystem, version: text, reason: "the epoch is too large")
            }
            epoch = Int(String(decoding: digits, as: UTF8.self)) ?? 0
            rest = rest[(digits.endIndex + 1)...]
        }
        var release: [UInt8]?
        if let dash = rest.lastIndex(of: UInt8(ascii: "-")) {
            release = Array(rest[(dash + 1)...])
            rest = rest[..<dash]
        }
        return Parsed(epoch: epoch, version: Array(rest), release: release)
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try parse(lhs)
        let b = try parse(rhs)
        if a.epoch != b.epoch { return a.epoch < b.epoch ? .less : .greater }
        let version = Self.rpmvercmp(a.version, b.version)
        if version != 0 { return .of(version) }
        // A version without a release sorts before the same version with one.
        switch (a.release, b.release) {
        case (nil, nil): return .equal
        case (nil, _): return .less
        case (_, nil): return .greater
        case (let ra?, let rb?): return .of(Self.rpmvercmp(ra, rb))
        }
    }

    static func rpmvercmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a == b { return 0 }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func isAlpha(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        func at(_ bytes: [UInt8], _ index: Int) -> UInt8 { index < bytes.count ? bytes[index] : 0 }
        let tilde = UInt8(ascii: "~")
        let caret = UInt8(ascii: "^")
        var one = 0
        var two = 0
        while at(a, one) != 0 || at(b, two) != 0 {
            while at(a, one) != 0 && !isDigit(at(a, one)) && !isAlpha(at(a, one)) && at(a, one) != tilde && at(a, one) != caret {
                one += 1
            }
            while at(b, two) != 0 && !isDigit(at(b, two)) && !isAlpha(at(b, two)) && at(b, two) != tilde && at(b, two) != caret {
                two += 1
            }
            if at(a, one) == tilde || at(b, two) == tilde {
                if at(a, one) != tilde { return 1 }
                if at(b, two) != tilde { return -1 }
                one += 1
                two += 1
                continue
            }
            if at(a, one) == caret || at(b, two) == caret {
                if at(a, one) == 0 { return -1 }
                if at(b, two) == 0 { return 1 }
                if at(a, one) != caret { return 1 }
                if at(b, two) != caret { return -1 }
                one += 1
                two += 1
                continue
            }
            if at(a, one) == 0 || at(b, two) == 0 { break }
            var end1 = one
            var end2 = two
            let isNumber = isDigit(at(a, one))
            if isNumber {
                while isDigit(at(a, end1)) { end1 += 1 }
                while isDigit(at(b, end2)) { end2 += 1 }
            } else {
                while isAlpha(at(a, end1)) { end1 += 1 }
                while isAlpha(at(b, end2)) { end2 += 1 }
            }
            if end2 == two { return isNumber ? 1 : -1 }
            var start1 = one
            var start2 = two
            if isNumber {
                while start1 < end1 && a[start1] == 48 { start1 += 1 }
                while start2 < end2 && b[start2] == 48 { start2 += 1 }
                let length1 = end1 - start1
                let length2 = end2 - start2
                if length1 != length2 { return length1 > length2 ? 1 : -1 }
            }
            let segment1 = a[start1..<end1]
            let segment2 = b[start2..<end2]
            if !segment1.elementsEqual(segment2) {
                return segment1.lexicographicallyPrecedes(segment2) ? -1 : 1
            }
            one = end1
            two = end2
        }
        if at(a, one) == 0 && at(b, two) == 0 { return 0 }
        return at(a, one) == 0 ? -1 : 1
    }
}
