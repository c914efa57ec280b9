// Semantic Versioning 2.0.0 (https://semver.org), as npm, crates.io and Go modules use it.

/// SemVer versions. `loose` accepts what npm's loose mode does (`v`/`=` prefixes, spaces);
/// the Go flavour requires the `v` prefix Go modules use and accepts `v1`/`v1.2` shorthand.
public struct SemanticVersion: VersionComparator {
    public enum Flavour: Sendable {
        case strict
        case loose
        case go
    }

    public let ecosystem: String
    let flavour: Flavour

    public init(flavour: Flavour = .loose) {
        self.flavour = flavour
        self.ecosystem = flavour == .go ? "go" : "semver"
    }

    public struct Parsed: Sendable {
        /// Numeric components as digit strings without leading zeros (any length, any count:
        /// OSV's SEMVER ranges and real ecosystems hold both).
        public var core: [Substring]
        public var prerelease: [Substring]
    }

    public func parse(_ text: String) throws -> Parsed {
        let invalid = { (reason: String) in VersionError(ecosystem: ecosystem, version: text, reason: reason) }
        var s = Substring(text)
        switch flavour {
        case .strict:
            s = Substring(s.trimmingSpaces())
            if let first = s.first, first == "v" || first == "=" { s.removeFirst() }
        case .loose:
            s = Substring(s.trimmingSpaces())
            while let first = s.first, first == "=" || first == "v" || first == " " { s.removeFirst() }
        case .go:
            // Module versions carry a `v` (v1.2.3); OSV's Go ranges and the stdlib's versions do
            // not (1.15.5): both name the same version.
            if s.first == "v" { s.removeFirst() }
        }
        var build: Substring?
        if let plus = s.firstIndex(of: "+") {
            build = s[s.index(after: plus)...]
            s = s[..<plus]
        }
        var prerelease: [Substring] = []
        if let dash = s.firstIndex(of: "-") {
            prerelease = s[s.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            s = s[..<dash]
            guard prerelease.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } })
            else { throw invalid("the pre-release is malformed") }
            if flavour != .loose {
                for part in prerelease where part.allSatisfy(\.isNumber) && part.count > 1 && part.first == "0" {
                    throw invalid("numeric pre-release identifiers have no leading zeros")
                }
            }
        }
        if let build, build.isEmpty || !build.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty }) {
            throw invalid("the build metadata is malformed")
        }
        let core = s.split(separator: ".", omittingEmptySubsequences: false)
        if flavour == .strict && core.count != 3 { throw invalid("it is not MAJOR.MINOR.PATCH") }
        var numbers: [Substring] = []
        for part in core {
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw invalid("'\(part)' is not a number")
            }
            if flavour == .go && part.count > 1 && part.first == "0" { throw invalid("numbers have no leading zeros") }
            let trimmed = part.drop { $0 == "0" }
            numbers.append(trimmed.isEmpty ? "0" : trimmed)
        }
        return Parsed(core: numbers, prerelease: prerelease)
    }

    /// Orders digit strings without leading zeros numerically, whatever their length.
    static func compareDigits(_ x: Substring, _ y: Substring) -> Int {
        if x.count != y.count { return x.count < y.count ? -1 : 1 }
        return x == y ? 0 : (x < y ? -1 : 1)
    }

    static let strictCache = ParseCache<Parsed>()
    static let looseCache = ParseCache<Parsed>()
    static let goCache = ParseCache<Parsed>()

    func cachedParse(_ text: String) throws -> Parsed {
        let cache = flavour == .strict ? Self.strictCache : flavour == .loose ? Self.looseCache : Self.goCache
        return try cache.value(for: text) { try parse($0) }
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try cachedParse(lhs)
        let b = try cachedParse(rhs)
        for index in 0..<max(a.core.count, b.core.count) {
            let x = index < a.core.count ? a.core[index] : "0"
            let y = index < b.core.count ? b.core[index] : "0"
            let order = Self.compareDigits(x, y)
            if order != 0 { return .of(order) }
        }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return .equal
        case (true, false): return .greater
        case (false, true): return .less
        default: break
        }
        for (x, y) in zip(a.prerelease, b.prerelease) {
            let xNumber = x.allSatisfy { $0.isASCII && $0.isNumber } ? x.drop { $0 == "0" } : nil
            let yNumber = y.allSatisfy { $0.isASCII && $0.isNumber } ? y.drop { $0 == "0" } : nil
            switch (xNumber, yNumber) {
            case (let p?, let q?):
                let order = Self.compareDigits(p, q)
                if order != 0 { return .of(order) }
            case (.some, nil): return .less
            case (nil, .some): return .greater
            case (nil, nil): if x != y { return x < y ? .less : .greater }
            }
        }
        if a.prerelease.count != b.prerelease.count { return a.prerelease.count < b.prerelease.count ? .less : .greater }
        return .equal
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}
