/// One finding of a stored report, kept as a row beside the report so that the fleet's findings
/// are answered from an index instead of by decoding every report (seconds at 100,000 images).
public struct ReportFinding: Sendable, Hashable {
    public var id: String
    public var aliases: [String]
    public var package: String
    public var installedVersion: String
    public var fixedVersion: String?
    /// The rating's word (`CRITICAL` … `UNKNOWN`) and the vendor status (`fixed`, `affected`, …).
    public var severity: String
    public var status: String

    public init(
        id: String, aliases: [String], package: String, installedVersion: String, fixedVersion: String?, severity: String, status: String
    ) {
        self.id = id
        // Kept in one column, and a fix of no version is none: both stores read them back alike.
        self.aliases = aliases.filter { !$0.isEmpty && !$0.contains("\n") }
        self.package = package
        self.installedVersion = installedVersion
        self.fixedVersion = fixedVersion?.isEmpty == true ? nil : fixedVersion
        self.severity = severity
        self.status = status
    }

    /// The ids a finding is found by: its own and its aliases, once each.
    public var keys: [String] {
        var seen: Set<String> = []
        return ([id] + aliases).filter { seen.insert($0).inserted }
    }

    /// Aliases in one column: ids hold no line break.
    public static func joined(_ aliases: [String]) -> String { aliases.joined(separator: "\n") }
    public static func split(_ column: String) -> [String] { column.isEmpty ? [] : column.split(separator: "\n").map(String.init) }
}

/// Which findings of the fleet's newest reports to list.
public struct FindingsFilter: Sendable, Hashable {
    /// A vulnerability id, matched against each finding's id and aliases.
    public var id: String?
    /// Severity words; nil for any.
    public var severities: [String]?
    /// With a fixed version (true) or without one (false); nil for both.
    public var fixable: Bool?

    public init(id: String? = nil, severities: [String]? = nil, fixable: Bool? = nil) {
        self.id = id
        self.severities = severities
        self.fixable = fixable
    }
}

/// A finding where the fleet's findings are listed: the report's name (image) and its place in
/// that report's list (the order of a listing: name in byte order, then place).
public struct ListedFinding: Sendable, Hashable {
    public var image: String
    public var manifestDigest: String?
    public var ordinal: Int
    public var finding: ReportFinding

    public init(image: String, manifestDigest: String?, ordinal: Int, finding: ReportFinding) {
        self.image = image
        self.manifestDigest = manifestDigest
        self.ordinal = ordinal
        self.finding = finding
    }
}

/// A page of the fleet's findings, with the totals of the whole listing.
public struct FindingsPage: Sendable {
    public var findings: [ListedFinding]
    /// Whether findings remain after this page.
    public var more: Bool
    /// Findings and images (names) matching the filter, in all pages.
    public var count: Int
    public var images: Int

    public init(findings: [ListedFinding], more: Bool, count: Int, images: Int) {
        self.findings = findings
        self.more = more
        self.count = count
        self.images = images
    }
}
