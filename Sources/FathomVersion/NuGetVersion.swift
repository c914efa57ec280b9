// NuGet's version ordering (https://learn.microsoft.com/nuget/concepts/package-versioning), as
// NuGet.Versioning's NuGetVersion and VersionComparer apply it, checked against the vectors of
// NuGet.Client's tests:
// - one to four numbers (missing ones are 0, so 1.0 = 1.0.0 = 1.0.0.0);
// - an optional `-` pre-release of dot-separated labels (letters, digits, dashes), ordered as
//   SemVer 2.0 orders them except that labels compare case-insensitively;
// - `+` build metadata is ignored.

/// NuGet (.NET) package versions.
public struct NuGetVersion: VersionComparator {
    public let ecosystem = "nuget"
    public init() {}

    struct Parsed: Sendable {
        /// Four numbers as digit strings without leading zeros.
        var numbers: [Substring]
        var labels: [Substring]
    }

    static let cache = ParseCache<Parsed>()

    func parse(_ text: String) throws -> Parsed {
        let invalid = { (reason: String) in VersionError(ecosystem: ecosystem, version: text, reason: reason) }
        var s = text.trimmingSpaces()
        if let plus = s.firstIndex(of: "+") {
            let metadata = s[s.index(after: plus)...]
            guard !metadata.isEmpty,
                metadata.split(separator: ".", omittingEmptySubsequences: false)
                    .allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" } })
            else { throw invalid("the build metadata is malformed") }
            s = s[..<plus]
        }
        var labels: [Substring] = []
        if let dash = s.firstIndex(of: "-") {
            labels = s[s.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            s = s[..<dash]
            guard labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCIIAlphanumeric || $0 == "-" } }) else {
                throw invalid("the pre-release is not dot-separated letters, digits and dashes")
            }
            for label in labels where label.count > 1 && label.first == "0" && label.allSatisfy(\.isNumber) {
                throw invalid("numeric pre-release labels have no leading zeros")
            }
        }
        let core = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(core.count) else { throw invalid("it has \(core.count) numbers, not one to four") }
        var numbers: [Substring] = []
        for part in core {
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw invalid("'\(part)' is not a number") }
            let trimmed = part.drop { $0 == "0" }
            // Each number is a 32-bit signed integer.
            guard trimmed.count < 10 || (trimmed.count == 10 && trimmed <= "2147483647") else { throw invalid("'\(part)' is too large") }
            numbers.append(trimmed.isEmpty ? "0" : trimmed)
        }
        while numbers.count < 4 { numbers.append("0") }
        return Parsed(numbers: numbers, labels: labels)
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        let a = try Self.cache.value(for: lhs) { try parse($0) }
        let b = try Self.cache.value(for: rhs) { try parse($0) }
        for (x, y) in zip(a.numbers, b.numbers) {
            let order = SemanticVersion.compareDigits(x, y)
            if order != 0 { return .of(order) }
        }
        switch (a.labels.isEmpty, b.labels.isEmpty) {
        case (true, true): return .equal
        case (true, false): return .greater
        case (false, true): return .less
        default: break
        }
        for (x, y) in zip(a.labels, b.labels) {
            let xNumber = x.allSatisfy { $0.isASCII && $0.isNumber }
            let yNumber = y.allSatisfy { $0.isASCII && $0.isNumber }
            switch (xNumber, yNumber) {
            case (true, true):
                let order = SemanticVersion.compareDigits(x.drop { $0 == "0" }, y.drop { $0 == "0" })
                if order != 0 { return .of(order) }
            case (true, false): return .less
            case (false, true): return .greater
            case (false, false):
                // Ordinal, ignoring case: both sides upper-cased, then by code unit.
                let p = Array(x.uppercased().utf8)
                let q = Array(y.uppercased().utf8)
                if p != q { return p.lexicographicallyPrecedes(q) ? .less : .greater }
            }
        }
        if a.labels.count != b.labels.count { return a.labels.count < b.labels.count ? .less : .greater }
        return .equal
    }
}
