// RubyGems' Gem::Version ordering (https://guides.rubygems.org/patterns/#semantic-versioning and
// rubygems/lib/rubygems/version.rb's documented rules), checked against Ruby's own Gem::Version
// and the vectors of its test suite:
// - a version is a number, then dot-separated alphanumeric parts, then an optional `-` suffix
//   (which means `.pre.`); blank means "0";
// - it splits into numbers and letter runs (`1.0a1` is 1, 0, "a", 1);
// - a letter run makes the version a pre-release: a string sorts below any number, and below
//   the end of a shorter version (`1.0.a` < `1.0`);
// - trailing zeros do not count, both before the first letter run and at the end
//   (`1.0.0` = `1`, `1.0.a.0` = `1.a`);
// - letter runs compare byte by byte, case included.

/// RubyGems (gem) versions.
public struct RubyGemsVersion: VersionComparator {
    public let ecosystem = "gem"
    public init() {}

    enum Segment: Equatable {
        /// Digits without leading zeros ("0" for zero).
        case number(Substring)
        case letters(Substring)

        static let zero = Segment.number("0")
    }

    static let cache = ParseCache<[Segment]>()

    /// Whether RubyGems calls the version a pre-release (it holds a letter).
    public func isPrerelease(_ text: String) throws -> Bool {
        try Self.cache.value(for: text) { try parse($0) }.contains { if case .letters = $0 { true } else { false } }
    }

    func parse(_ text: String) throws -> [Segment] {
        let invalid = { (reason: String) in VersionError(ecosystem: ecosystem, version: text, reason: reason) }
        let s = text.trimmingSpaces()
        if s.isEmpty { return [] }  // Gem::Version.new("") is "0"
        let (release, suffix) = s.firstIndex(of: "-").map { (s[..<$0], Optional(s[s.index(after: $0)...])) } ?? (s, nil)
        let parts = release.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, first.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw invalid("its first part is not a number")
        }
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIAlphanumeric) }) else {
            throw invalid("its parts are not letters and digits separated by single dots")
        }
        if let suffix {
            let labels = suffix.split(separator: ".", omittingEmptySubsequences: false)
            guard labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" } }) else {
                throw invalid("the part after '-' is not letters, digits and dashes separated by single dots")
            }
        }
        // `-` stands for `.pre.`: "1.0-rc1" is 1, 0, "pre", "rc", 1.
        var segments: [Segment] = []
        func scan(_ run: Substring) {
            var index = run.startIndex
            while index < run.endIndex {
                let digits = run[index].isNumber
                var end = index
                while end < run.endIndex, run[end].isASCIIAlphanumeric, run[end].isNumber == digits { end = run.index(after: end) }
                if end == index { index = run.index(after: index); continue }  // a dash
                let token = run[index..<end]
                if digits {
                    let trimmed = token.drop { $0 == "0" }
                    segments.append(.number(trimmed.isEmpty ? "0" : trimmed))
                } else {
                    segments.append(.letters(token))
                }
                index = end
            }
        }
        scan(release)
        if let suffix {
            for piece in suffix.split(separator: "-", omittingEmptySubsequences: false) {
                segments.append(.letters("pre"))
                scan(piece)
            }
        }
        let firstLetters = segments.firstIndex { if case .letters = $0 { true } else { false } } ?? segments.endIndex
        var numeric = Array(segments[..<firstLetters])
        var rest = Array(segments[firstLetters...])
        while numeric.last == .zero { numeric.removeLast() }
        while rest.last == .zero { rest.removeLast() }
        return numeric + rest
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try Self.cache.value(for: lhs) { try parse($0) }
        let b = try Self.cache.value(for: rhs) { try parse($0) }
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : .zero
            let y = index < b.count ? b[index] : .zero
            switch (x, y) {
            case (.number(let p), .number(let q)):
                let order = SemanticVersion.compareDigits(p, q)
                if order != 0 { return .of(order) }
            case (.letters, .number): return .less
            case (.number, .letters): return .greater
            case (.letters(let p), .letters(let q)):
                if p != q { return Array(p.utf8).lexicographicallyPrecedes(q.utf8) ? .less : .greater }
            }
        }
        return .equal
    }
}

extension Character {
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}
