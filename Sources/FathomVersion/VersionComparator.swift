/// Orders version strings the way one packaging ecosystem does.
public protocol VersionComparator: Sendable {
    /// The ecosystem's name as fathom spells it (`deb`, `rpm`, `apk`, `pypi`, `semver`, `go`,
    /// `maven`, `gem`, `composer`, `nuget`).
    var ecosystem: String { get }
    /// Compares two versions; throws `VersionError` when one cannot be parsed under the
    /// ecosystem's rules.
    func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult
    /// Throws when an installed package's version is not one of the ecosystem's: such a
    /// package is in no advisory's range (coverage names it as a gap). By default, when the
    /// version cannot be compared at all.
    func validate(_ installed: String) throws
}

extension VersionComparator {
    public func validate(_ installed: String) throws { _ = try compare(installed, installed) }
}

/// The outcome of comparing two versions.
public enum ComparisonResult: Int, Sendable {
    case less = -1
    case equal = 0
    case greater = 1

    public var symbol: String {
        switch self {
        case .less: return "<"
        case .equal: return "="
        case .greater: return ">"
        }
    }

    static func of(_ value: Int) -> ComparisonResult { value < 0 ? .less : value > 0 ? .greater : .equal }
}

/// A version that does not follow its ecosystem's rules.
public struct VersionError: Error, Sendable, CustomStringConvertible {
    public var ecosystem: String
    public var version: String
    public var reason: String
    public var description: String { "\(ecosystem) version '\(version)' is invalid: \(reason)" }
}

/// The comparators by ecosystem name.
public enum VersionComparators {
    /// The names `fathom vercmp --ecosystem` lists, one per ordering.
    public static let names = ["deb", "rpm", "apk", "pypi", "semver", "go", "maven", "gem", "composer", "nuget"]

    public static func comparator(for ecosystem: String) -> (any VersionComparator)? {
        switch ecosystem.lowercased() {
        case "deb", "dpkg", "debian", "ubuntu": return DpkgVersion()
        case "rpm", "redhat": return RpmVersion()
        case "apk", "alpine": return ApkVersion()
        case "pypi", "python", "pep440": return PEP440Version()
        case "semver", "npm", "crates", "crates.io", "cargo": return SemanticVersion(flavour: .loose)
        case "go", "golang": return SemanticVersion(flavour: .go)
        case "maven", "java": return MavenVersion()
        case "gem", "rubygems", "ruby": return RubyGemsVersion()
        case "composer", "packagist", "php": return ComposerVersion()
        case "nuget", "dotnet", ".net": return NuGetVersion()
        default: return nil
        }
    }
}
