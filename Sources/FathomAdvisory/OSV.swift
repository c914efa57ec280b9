// https://ossf.github.io/osv-schema/ (schema: shared/data/advisories/osv-schema.json)

/// One OSV vulnerability record. Fields fathom does not use are not decoded.
public struct OSVRecord: Codable, Sendable, Hashable {
    public struct Package: Codable, Sendable, Hashable {
        public var ecosystem: String
        public var name: String
        public var purl: String?

        public init(ecosystem: String, name: String, purl: String? = nil) {
            self.ecosystem = ecosystem
            self.name = name
            self.purl = purl
        }
    }

    public struct Event: Codable, Sendable, Hashable {
        public var introduced: String?
        public var fixed: String?
        public var lastAffected: String?
        public var limit: String?

        enum CodingKeys: String, CodingKey {
            case introduced, fixed, limit
            case lastAffected = "last_affected"
        }

        public init(introduced: String? = nil, fixed: String? = nil, lastAffected: String? = nil, limit: String? = nil) {
            self.introduced = introduced
            self.fixed = fixed
            self.lastAffected = lastAffected
            self.limit = limit
        }
    }

    public struct Range: Codable, Sendable, Hashable {
        /// `ECOSYSTEM`, `SEMVER` or `GIT` (recorded, never matched: it names commits).
        public var type: String
        public var repo: String?
        public var events: [Event]

        public init(type: String, repo: String? = nil, events: [Event]) {
            self.type = type
            self.repo = repo
            self.events = events
        }
    }

    public struct Affected: Codable, Sendable, Hashable {
        public var package: Package?
        public var ranges: [Range]?
        public var versions: [String]?
        public var severity: [Severity]?
        public var ecosystemSpecific: JSONValue?
        public var databaseSpecific: JSONValue?

        enum CodingKeys: String, CodingKey {
            case package, ranges, versions, severity
            case ecosystemSpecific = "ecosystem_specific"
            case databaseSpecific = "database_specific"
        }

        public init(package: Package?, ranges: [Range]?, versions: [String]? = nil, severity: [Severity]? = nil) {
            self.package = package
            self.ranges = ranges
            self.versions = versions
            self.severity = severity
        }
    }

    public struct Severity: Codable, Sendable, Hashable {
        /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
        public var type: String
        public var score: String
    }

    public struct Reference: Codable, Sendable, Hashable {
        public var type: String?
        public var url: String

        public init(type: String?, url: String) {
            self.type = type
            self.url = url
        }
    }

    public var id: String
    public var modified: String?
    public var published: String?
    public var withdrawn: String?
    public var aliases: [String]?
    /// The vulnerabilities this record derives from (OSV 1.7: a distro's record of a CVE).
    public var upstream: [String]?
    /// Closely related records. Distributions' advisories (AlmaLinux's ALSA, Ubuntu's schema 1.6
    /// UBUNTU-CVE records) list the CVEs they fix here rather than as aliases.
    public var related: [String]?
    public var summary: String?
    public var details: String?
    public var severity: [Severity]?
    public var affected: [Affected]?
    public var references: [Reference]?
    public var databaseSpecific: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, modified, published, withdrawn, aliases, upstream, related, summary, details, severity, affected, references
        case databaseSpecific = "database_specific"
    }

    public init(
        id: String, aliases: [String]? = nil, summary: String? = nil, severity: [Severity]? = nil, affected: [Affected]?,
        references: [Reference]? = nil
    ) {
        self.id = id
        self.aliases = aliases
        self.summary = summary
        self.severity = severity
        self.affected = affected
        self.references = references
    }

    /// A line that says what the flaw is: the summary, else the first sentence of the details
    /// (PyPA's records have only details), cut at 320 characters.
    public var title: String? {
        if let summary, !summary.isEmpty { return summary }
        guard let details else { return nil }
        let text = details.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !text.isEmpty else { return nil }
        var sentence = Substring(text)
        var previous: Character?
        for index in text.indices {
            if text[index] == " " && previous == "." {
                sentence = text[..<index]
                break
            }
            previous = text[index]
        }
        return sentence.count > 320 ? String(sentence.prefix(319)) + "…" : String(sentence)
    }

    /// The other names of this vulnerability: aliases, then upstream ids, each once. A record
    /// that names no CVE there but lists CVEs as `related` (a distribution's advisory: ALSA-…,
    /// UBUNTU-CVE-… of OSV 1.6) is about those CVEs, so they count as its names too: NVD's
    /// scores, KEV, EPSS, ignore rules and VEX statements find it by them.
    public var relatedIDs: [String] {
        var seen: Set<String> = [id]
        var names = (aliases ?? []) + (upstream ?? [])
        if !([id] + names).contains(where: { $0.hasPrefix("CVE-") }) {
            names += (related ?? []).filter { $0.hasPrefix("CVE-") }
        }
        return names.filter { seen.insert($0).inserted }
    }
}

extension OSVRecord.Affected {
    /// RustSec's informational advisories of kind `unmaintained` or `notice` report no flaw in
    /// the code (cargo-audit lists them as warnings, apart from vulnerabilities). Its `unsound`
    /// ones are memory-safety bugs and stay advisories.
    var isInformationalNotice: Bool {
        guard case .object(let specific) = databaseSpecific, case .string(let kind) = specific["informational"] else { return false }
        return kind == "unmaintained" || kind == "notice"
    }

    /// False when the entry names the operating systems it affects (RustSec's
    /// `ecosystem_specific.affects.os`) and Linux is not one: a container image runs Linux.
    var affectsLinux: Bool {
        guard case .object(let specific) = ecosystemSpecific, case .object(let affects) = specific["affects"],
            case .array(let systems) = affects["os"], !systems.isEmpty
        else { return true }
        return systems.contains(.string("linux"))
    }
}

extension OSVRecord {
    /// A Red Hat-family bug-fix (`…BA-`) or enhancement (`…EA-`) erratum that names no CVE:
    /// Trivy and Grype read only the security errata (`…SA-`) of these distributions.
    public var isNonSecurityErratum: Bool {
        let prefixes = ["ALBA-", "ALEA-", "RLBA-", "RLEA-", "RHBA-", "RHEA-", "ELBA-", "ELEA-"]
        guard prefixes.contains(where: id.hasPrefix) else { return false }
        return !([id] + (aliases ?? []) + (upstream ?? []) + (related ?? [])).contains { $0.hasPrefix("CVE-") }
    }
}

extension OSVRecord {
    /// The record's reference URLs, each once, with the page about the advisory first (reports
    /// link to the first: SARIF's `helpUri`, CycloneDX's `source.url`, Harbor's `links`): an
    /// `ADVISORY` reference naming the record's own id, then its other `ADVISORY` references,
    /// else NVD's page for its CVE, else the feed's page for the id; then the rest in the
    /// record's order (fixes, reports, …).
    public var orderedReferences: [String] {
        let all = references ?? []
        let advisories = all.filter { $0.type == "ADVISORY" }.map(\.url)
        var ordered = advisories.filter { $0.contains(id) } + advisories
        if advisories.isEmpty {
            if let cve = ([id] + relatedIDs).first(where: { $0.hasPrefix("CVE-") }) {
                ordered += all.map(\.url).filter { $0.hasPrefix("https://nvd.nist.gov/vuln/detail/") }
                ordered.append("https://nvd.nist.gov/vuln/detail/\(cve)")
            } else if let page = OSVPage.url(for: id) {
                ordered.append(page)
            }
        }
        ordered += all.map(\.url)
        var seen = Set<String>()
        // The same page spelled with and without a trailing slash is one page.
        return ordered.filter { seen.insert($0.hasSuffix("/") ? String($0.dropLast()) : $0).inserted }
    }
}

/// The public page of an advisory id, for the ids a public database publishes: GitHub's for a
/// GHSA, OSV.dev's for the databases it holds. A feed's own id (a custom record, `TEST-2026-1`,
/// or fathom's name for an Alpine secdb entry) has none: a link made up for it was a 404.
public enum OSVPage {
    static let published = [
        "CVE-", "PYSEC-", "GO-", "RUSTSEC-", "DSA-", "DLA-", "DTSA-", "USN-", "UBUNTU-", "ALSA-", "ALBA-", "ALEA-", "RLSA-", "RHSA-",
        "RHBA-", "RHEA-", "OSV-", "MAL-", "BIT-", "CURL-", "GSD-", "HSEC-", "PSF-", "RSEC-", "SUSE-", "openSUSE-", "CGA-", "MGASA-",
        "DEBIAN-CVE-", "ALPINE-CVE-", "LBSEC-", "ASB-", "PUB-", "ELSA-", "BELL-", "RXSA-",
    ]

    public static func url(for id: String) -> String? {
        if id.hasPrefix("GHSA-") { return "https://github.com/advisories/\(id)" }
        // fathom's own names for Debian's and Alpine's entries (`DEBIAN-CVE-…-glibc-bookworm`) are no OSV ids.
        guard published.contains(where: id.hasPrefix), id.split(separator: "-").count <= 4 || !id.hasPrefix("DEBIAN-") else { return nil }
        return "https://osv.dev/vulnerability/\(id)"
    }
}
