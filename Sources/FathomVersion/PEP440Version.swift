// PEP 440 (https://peps.python.org/pep-0440/) as pypa/packaging normalises and orders it.

/// Python package versions.
public struct PEP440Version: VersionComparator {
    public let ecosystem = "pypi"
    public init() {}

    /// A parsed version, ordered as packaging's `_cmpkey`.
    public struct Parsed: Comparable, Sendable {
        var epoch: Int
        var release: [Int]
        /// (rank a=0 b=1 rc=2, number), or nil.
        var pre: (Int, Int)?
        var post: Int?
        var dev: Int?
        var local: [LocalPart]?

        enum LocalPart: Comparable {
            case text(String)
            case number(Int)
            // Text parts sort before numbers, as packaging does.
            static func < (lhs: LocalPart, rhs: LocalPart) -> Bool {
                switch (lhs, rhs) {
                case (.text(let a), .text(let b)): return a < b
                case (.number(let a), .number(let b)): return a < b
                case (.text, .number): return true
                case (.number, .text): return false
                }
            }
        }

        public static func == (lhs: Parsed, rhs: Parsed) -> Bool { compare(lhs, rhs) == 0 }
        public static func < (lhs: Parsed, rhs: Parsed) -> Bool { compare(lhs, rhs) < 0 }

        static func compare(_ a: Parsed, _ b: Parsed) -> Int {
            if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
            var ra = a.release
            var rb = b.release
            while ra.count > 1, ra.last == 0 { ra.removeLast() }
            while rb.count > 1, rb.last == 0 { rb.removeLast() }
            if ra != rb { return ra.lexicographicallyPrecedes(rb) ? -1 : 1 }
            // Pre-release key: a dev-only release sorts before any pre-release of it.
            func preKey(_ v: Parsed) -> (Int, Int, Int) {
                if let pre = v.pre { return (1, pre.0, pre.1) }
                if v.post == nil && v.dev != nil { return (0, 0, 0) }
                return (2, 0, 0)
            }
            let pa = preKey(a)
            let pb = preKey(b)
            if pa != pb { return pa < pb ? -1 : 1 }
            let posta = a.post.map { $0 } ?? -1
            let postb = b.post.map { $0 } ?? -1
            if posta != postb { return posta < postb ? -1 : 1 }
            let deva = a.dev ?? Int.max
            let devb = b.dev ?? Int.max
            if deva != devb { return deva < devb ? -1 : 1 }
            switch (a.local, b.local) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let la?, let lb?):
                if la == lb { return 0 }
                return la.lexicographicallyPrecedes(lb) ? -1 : 1
            }
        }
    }

    public func parse(_ text: String) throws -> Parsed {
        let invalid = { (reason: String) in VersionError(ecosystem: "pypi", version: text, reason: reason) }
        var s = Array(text.lowercased().utf8)[...]
        while let first = s.first, first == 32 || first == 9 || first == 10 { s.removeFirst() }
        while let last = s.last, last == 32 || last == 9 || last == 10 { s.removeLast() }
        if s.first == UInt8(ascii: "v") { s.removeFirst() }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func number() -> Int? {
            let digits = s.prefix(while: isDigit)
            guard !digits.isEmpty else { return nil }
            s = s[digits.endIndex...]
            return Int(String(decoding: digits.prefix(18), as: UTF8.self))
        }
        func separator() { if let c = s.first, c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") { s.removeFirst() } }
        func take(_ words: [String]) -> String? {
            for word in words where s.starts(with: word.utf8) {
                s = s.dropFirst(word.utf8.count)
                return word
            }
            return nil
        }
        guard var first = number() else { throw invalid("it does not start with a number") }
        var epoch = 0
        if s.first == UInt8(ascii: "!") {
            epoch = first
            s.removeFirst()
            guard let next = number() else { throw invalid("no release after the epoch") }
            first = next
        }
        var release = [first]
        while s.first == UInt8(ascii: "."), s.count > 1, isDigit(s[s.index(after: s.startIndex)]) {
            s.removeFirst()
            release.append(number()!)
        }
        var pre: (Int, Int)?
        let save = s
        separator()
        if let label = take(["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            let rank: Int
            switch label {
            case "alpha", "a": rank = 0
            case "beta", "b": rank = 1
            default: rank = 2
            }
            let beforeNumber = s
            separator()
            if let n = number() { pre = (rank, n) } else { s = beforeNumber; pre = (rank, 0) }
        } else {
            s = save
        }
        var post: Int?
        if s.first == UInt8(ascii: "-"), s.count > 1, isDigit(s[s.index(after: s.startIndex)]) {
            s.removeFirst()
            post = number()
        } else {
            let save = s
            separator()
            if take(["post", "rev", "r"]) != nil {
                let beforeNumber = s
                separator()
                if let n = number() { post = n } else { s = beforeNumber; post = 0 }
            } else {
                s = save
            }
        }
        var dev: Int?
        let beforeDev = s
        separator()
        if take(["dev"]) != nil {
            let beforeNumber = s
            separator()
            if let n = number() { dev = n } else { s = beforeNumber; dev = 0 }
        } else {
            s = beforeDev
        }
        var local: [Parsed.LocalPart]?
        if s.first == UInt8(ascii: "+") {
            s.removeFirst()
            let parts = String(decoding: s, as: UTF8.self).split(
                separator: /[-_.]/, omittingEmptySubsequences: false)
            guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } && $0.allSatisfy(\.isASCII) })
            else { throw invalid("the local version is malformed") }
            local = parts.map { part in Int(part).map { .number($0) } ?? .text(String(part)) }
            s = s[s.endIndex...]
        }
        guard s.isEmpty else { throw invalid("unexpected '\(String(decoding: s, as: UTF8.self))'") }
        return Parsed(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: local)
    }

    /// Compares two versions. A string that is not PEP 440 (`0.9-doduo`, `trunk`) is ordered
    /// as packaging's `LegacyVersion` did: before every valid version, by setuptools' legacy
    /// parts. PyPI still serves such versions, and advisories name them.
    /// A parse, or nil for a string that is not PEP 440 (then ordered as a legacy version).
    static let cache = ParseCache<Parsed?>()

    /// An installed version must be PEP 440: pip and packaging (22 and later) refuse any other,
    /// so `2.25.1.custom` is no release an advisory names. Ordered as a legacy version it came
    /// before every fix, and every advisory of its package was reported.
    public func validate(_ installed: String) throws { _ = try parse(installed) }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let parse = { (text: String) in Self.cache.value(for: text) { try? self.parse($0) } }
        switch (parse(lhs), parse(rhs)) {
        case (let a?, let b?): return .of(Parsed.compare(a, b))
        case (.some, nil): return .greater
        case (nil, .some): return .less
        case (nil, nil):
            let a = Self.legacyKey(lhs)
            let b = Self.legacyKey(rhs)
            if a == b { return .equal }
            return a.lexicographicallyPrecedes(b) ? .less : .greater
        }
    }

    /// setuptools' legacy version parts (`_legacy_cmpkey`): numbers zero-padded to eight
    /// digits, words prefixed with `*`, trailing zeros and pre-release dashes dropped.
    static func legacyKey(_ version: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var currentKind = 0  // 0 other, 1 digits, 2 letters
        func flush() {
            if !current.isEmpty { pieces.append(current) }
            current = ""
        }
        for character in version.lowercased() {
            let kind = character.isASCII && character.isNumber ? 1 : (character >= "a" && character <= "z") ? 2 : 0
            if character == "." || character == "-" {
                flush()
                pieces.append(String(character))
                currentKind = 0
                continue
            }
            if kind != currentKind || kind == 0 && currentKind != 0 { flush() }
            currentKind = kind
            current.append(character)
        }
        flush()
        var parts: [String] = []
        func add(_ part: String) {
            if part.hasPrefix("*") {
                if part < "*final" { while parts.last == "*final-" { parts.removeLast() } }
                while parts.last == "00000000" { parts.removeLast() }
            }
            parts.append(part)
        }
        for piece in pieces {
            let replaced = ["pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"][piece] ?? piece
            if replaced.isEmpty || replaced == "." { continue }
            if let first = replaced.first, first.isASCII, first.isNumber {
                add(String(repeating: "0", count: max(0, 8 - replaced.count)) + replaced)
            } else {
                add("*" + replaced)
            }
        }
        add("*final")
        return parts
    }
}
