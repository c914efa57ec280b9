// Composer's version ordering (https://getcomposer.org/doc/articles/versions.md), as
// composer/semver's VersionParser::normalize and Comparator apply it, checked against that
// library (Debian's php-composer-semver) and its test suite's vectors:
// - normalizing: an optional `v`, one to four numbers (padded to four), or a date
//   (`2010-01-02`, `20100102`, with up to two more small numbers as composer/semver 3.4 allows;
//   Debian's 3.3 allows one); then an optional stability (`stable`, `RC`, `beta`/`b`,
//   `alpha`/`a`, `patch`/`pl`/`p`) with its number, and an optional `-dev`; `1.x-dev`-style
//   branches become `1.9999999.9999999.9999999-dev`; build metadata (`+…`) and a `@stability`
//   flag are dropped; `dev-*` branches have no order.
// - comparing normalized versions as PHP's version_compare does: numbers numerically, and
//   words by their rank, unknown < dev < alpha < beta < RC < a number < patch, so that
//   dev < alpha < beta < RC < stable < patch for the same numbers.

/// Composer (Packagist) versions.
public struct ComposerVersion: VersionComparator {
    public let ecosystem = "composer"
    public init() {}

    static let cache = ParseCache<[Part]>()

    enum Part: Equatable {
        case number(Substring)
        case word(Substring)
    }

    /// Composer's normalized form of `text` (`v1.0RC1` → `1.0.0.0-RC1`).
    public func normalize(_ text: String) throws -> String {
        let invalid = VersionError(ecosystem: ecosystem, version: text, reason: "Composer cannot normalize it")
        var version = String(text.trimmingSpaces())
        // "1.0.x-dev as 1.0.0": the installed version is the one on the left.
        let words = version.split(separator: " ", omittingEmptySubsequences: true)
        if words.count == 3, words[1] == "as", !words[0].contains(","), !words[2].contains(",") { version = String(words[0]) }
        for flag in ["stable", "rc", "beta", "alpha", "dev"] where version.lowercased().hasSuffix("@" + flag) {
            version.removeLast(flag.count + 1)
            break
        }
        if ["master", "trunk", "default"].contains(version) { version = "dev-" + version }
        if version.lowercased().hasPrefix("dev-") { return "dev-" + version.dropFirst(4) }
        if let plus = version.firstIndex(of: "+"), plus != version.startIndex,
            !version[..<plus].contains(where: { $0 == "," || $0.isWhitespace }),
            version.index(after: plus) != version.endIndex,
            !version[version.index(after: plus)...].contains(where: \.isWhitespace)
        {
            version = String(version[..<plus])
        }
        if let classical = Self.classical(version) { return classical }
        if let dated = Self.dated(version) { return dated }
        if let branch = Self.numericBranch(version) { return branch }
        throw invalid
    }

    /// `v?N{1,5}(.N)?(.N)?(.N)?` followed by a modifier.
    static func classical(_ version: String) -> String? {
        var scanner = Scanner(version)
        _ = scanner.take("v") || scanner.take("V")
        guard let major = scanner.digits(), major.count <= 5 else { return nil }
        var numbers = [major]
        while numbers.count < 4, scanner.peek(".", thenDigit: true) {
            scanner.advance()
            numbers.append(scanner.digits()!)
        }
        guard let modifier = modifier(scanner.rest) else { return nil }
        return numbers.joined(separator: ".") + String(repeating: ".0", count: 4 - numbers.count) + modifier
    }

    /// `v?YYYY` then one to six two-digit groups and up to two one-to-three-digit groups,
    /// each after an optional `.`, `:` or `-`, followed by a modifier; non-digits become dots.
    static func dated(_ version: String) -> String? {
        let body = version.first == "v" || version.first == "V" ? Substring(version.dropFirst()) : Substring(version)
        let chars = Array(body)
        // Try every split between the date and the modifier, longest date first (the regex
        // backtracks the same way).
        for end in stride(from: chars.count, through: 4, by: -1) {
            let date = chars[..<end]
            guard isDate(date), let modifier = modifier(body.dropFirst(end)) else { continue }
            return String(date.map { $0.isASCII && $0.isNumber ? $0 : "." }) + modifier
        }
        return nil
    }

    static func isDate(_ chars: ArraySlice<Character>) -> Bool {
        func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
        var i = chars.startIndex
        for _ in 0..<4 {
            guard i < chars.endIndex, isDigit(chars[i]) else { return false }
            i += 1
        }
        // Groups of two digits, one to six of them, each after an optional separator.
        func group(_ at: Int, lengths: ClosedRange<Int>) -> [Int] {
            var starts = [at]
            if at < chars.endIndex, ".:-".contains(chars[at]) { starts.append(at + 1) }
            var ends: [Int] = []
            for start in starts {
                var j = start
                while j < chars.endIndex, isDigit(chars[j]), j - start < lengths.upperBound {
                    j += 1
                    if lengths.contains(j - start) { ends.append(j) }
                }
            }
            return ends
        }
        var positions: Set<Int> = [i]
        var reachable: Set<Int> = []
        for _ in 0..<6 {
            positions = Set(positions.flatMap { group($0, lengths: 2...2) })
            reachable.formUnion(positions)
        }
        // Then up to two groups of one to three digits (composer/semver 3.4; 3.3 took one).
        let once = Set(reachable.flatMap { group($0, lengths: 1...3) })
        let twice = Set(once.flatMap { group($0, lengths: 1...3) })
        return reachable.union(once).union(twice).contains(chars.endIndex)
    }

    /// The normalized suffix for `[._-]?(stability(numbers)?)?([.-]?dev)?` at the end of a
    /// version, or nil when `rest` is not one.
    static func modifier(_ rest: Substring) -> String? {
        var scanner = Scanner(String(rest))
        _ = scanner.take(".") || scanner.take("_") || scanner.take("-")
        var output = ""
        // The longer spellings first, as the regex's alternation tries them.
        let stabilities = ["stable", "beta", "b", "rc", "alpha", "a", "patch", "pl", "p"]
        let attempt = scanner
        for stability in stabilities {
            var trial = attempt
            guard trial.takeCaseInsensitive(stability) else { continue }
            // ((?:[.-]?\d+)*+): numbers, each after an optional . or -
            var numbers = ""
            while true {
                var step = trial
                var separator = ""
                if step.take(".") { separator = "." } else if step.take("-") { separator = "-" }
                guard let digits = step.digits() else { break }
                numbers += separator + digits
                trial = step
            }
            guard let dev = devSuffix(trial) else { continue }
            let spelled = String(attempt.rest.prefix(stability.count))
            if spelled == "stable" { return "" }  // Composer compares the spelling case-sensitively
            let expanded = expand(stability)
            output = "-" + expanded + String(numbers.drop { $0 == "." || $0 == "-" })
            return output + (dev ? "-dev" : "")
        }
        // No stability: only an optional dev suffix may follow (or nothing: "1.0-" is 1.0).
        return devSuffix(scanner).map { $0 ? "-dev" : "" }
    }

    /// `([.-]?dev)?$`: true for a dev suffix, false for the end, nil for anything else.
    static func devSuffix(_ scanner: Scanner) -> Bool? {
        var s = scanner
        if s.isAtEnd { return false }
        _ = s.take(".") || s.take("-")
        return s.takeCaseInsensitive("dev") && s.isAtEnd ? true : nil
    }

    static func expand(_ stability: String) -> String {
        switch stability {
        case "a": return "alpha"
        case "b": return "beta"
        case "p", "pl": return "patch"
        case "rc": return "RC"
        default: return stability
        }
    }

    /// `1.x-dev`, `2.1.*-dev`: numeric branches, with wildcards as 9999999.
    static func numericBranch(_ version: String) -> String? {
        let lower = version.lowercased()
        guard lower.hasSuffix("dev") else { return nil }
        var name = Substring(version.dropLast(3))
        if let last = name.last, last == "." || last == "-" { name = name.dropLast() }
        var scanner = Scanner(String(name.trimmingSpaces()))
        _ = scanner.take("v") || scanner.take("V")
        guard let major = scanner.digits() else { return nil }
        var parts = [major]
        while parts.count < 4, scanner.take(".") {
            if let digits = scanner.digits() {
                parts.append(digits)
            } else if scanner.take("x") || scanner.take("X") || scanner.take("*") {
                parts.append("9999999")
            } else {
                return nil
            }
        }
        guard scanner.isAtEnd else { return nil }
        while parts.count < 4 { parts.append("9999999") }
        return parts.joined(separator: ".") + "-dev"
    }

    /// The normalized version split as version_compare splits it.
    func parts(_ text: String) throws -> [Part] {
        let normalized = try normalize(text)
        if normalized.hasPrefix("dev-") {
            throw VersionError(ecosystem: ecosystem, version: text, reason: "a dev branch has no version order")
        }
        var parts: [Part] = []
        var current = ""
        func flush() {
            guard !current.isEmpty else { return }
            if current.first!.isNumber {
                let trimmed = current.drop { $0 == "0" }
                parts.append(.number(trimmed.isEmpty ? "0" : trimmed))
            } else {
                parts.append(.word(Substring(current)))
            }
            current = ""
        }
        for c in normalized {
            if !(c.isASCII && (c.isLetter || c.isNumber)) {
                flush()
            } else {
                if let last = current.last, last.isNumber != c.isNumber { flush() }
                current.append(c)
            }
        }
        flush()
        return parts
    }

    /// version_compare's rank of a word: prefixes of these spellings, case-sensitive.
    static func rank(_ word: Substring) -> Int {
        for (form, order) in [("dev", 0), ("alpha", 1), ("a", 1), ("beta", 2), ("b", 2), ("RC", 3), ("rc", 3), ("pl", 5), ("p", 5)]
        where word.hasPrefix(form) {
            return order
        }
        return -1
    }

    static let numberRank = 4

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try Self.cache.value(for: lhs) { try parts($0) }
        let b = try Self.cache.value(for: rhs) { try parts($0) }
        for (x, y) in zip(a, b) {
            let order: Int
            switch (x, y) {
            case (.number(let p), .number(let q)): order = SemanticVersion.compareDigits(p, q)
            case (.word(let p), .word(let q)): order = Self.rank(p) - Self.rank(q)
            case (.number, .word(let q)): order = Self.numberRank - Self.rank(q)
            case (.word(let p), .number): order = Self.rank(p) - Self.numberRank
            }
            if order != 0 { return .of(order) }
        }
        // Only the first extra part counts: a number makes the longer greater, a word is
        // ranked against a number.
        if a.count == b.count { return .equal }
        let longerIsLeft = a.count > b.count
        let extra = longerIsLeft ? a[b.count] : b[a.count]
        let order: Int
        switch extra {
        case .number: order = 1
        case .word(let word): order = Self.rank(word) - Self.numberRank
        }
        return .of(longerIsLeft ? order : -order)
    }
}

/// A cursor over a version string for the hand-written equivalents of Composer's regexes.
struct Scanner {
    private let chars: [Character]
    private var index = 0

    init(_ text: String) { chars = Array(text) }

    var isAtEnd: Bool { index == chars.count }
    var rest: Substring { Substring(String(chars[index...])) }

    mutating func advance() { index += 1 }

    mutating func take(_ c: Character) -> Bool {
        guard index < chars.count, chars[index] == c else { return false }
        index += 1
        return true
    }

    mutating func takeCaseInsensitive(_ word: String) -> Bool {
        let end = index + word.count
        guard end <= chars.count, String(chars[index..<end]).lowercased() == word else { return false }
        index = end
        return true
    }

    func peek(_ c: Character, thenDigit: Bool) -> Bool {
        guard index + 1 < chars.count, chars[index] == c else { return false }
        return !thenDigit || (chars[index + 1].isASCII && chars[index + 1].isNumber)
    }

    mutating func digits() -> String? {
        let start = index
        while index < chars.count, chars[index].isASCII, chars[index].isNumber { index += 1 }
        return index > start ? String(chars[start..<index]) : nil
    }
}
