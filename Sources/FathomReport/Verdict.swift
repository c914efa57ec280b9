public import FathomAdvisory
public import FathomStore

/// One image's result: the report (findings under the policy, suppressed ones with their rule,
/// the changes against the previous scan, the coverage) and the verdict.
public struct ScanResult: Sendable {
    /// What this run read from blobs for the image (layers and compressed bytes); nil when nothing was read.
    public struct Read: Sendable, Hashable {
        public var layers: Int
        public var bytes: Int64
        /// The image's manifest was read before: its OS, packages and layers were read as stored.
        public var known: Bool

        public init(layers: Int, bytes: Int64, known: Bool = false) {
            self.layers = layers
            self.bytes = bytes
            self.known = known
        }
    }

    public init(report: ScanReport, verdict: ScanVerdict, read: Read? = nil) {
        self.report = report
        self.verdict = verdict
        self.read = read
    }

    public var report: ScanReport
    public var verdict: ScanVerdict
    public var read: Read?
    /// The ignore rules and VEX statements (by origin) that named a finding the policy
    /// suppressed, whichever one the report credits: for a fleet's note of the unused ones.
    public var usedRules: Set<String> = []
    /// What the policy's filters left out of the report, for a fleet's sum of it.
    public var filtered = ScanPolicy.Filtered()

    public var changes: ScanChanges? { report.changes }
    public var coverage: Coverage? { report.coverage }
}

/// What `--exit-code` makes of an image.
public struct ScanVerdict: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// No verdict was asked for (`--exit-code 0`).
        case notAsked = "not-asked"
        /// Nothing survived the policy, and everything was checked (or missing data is allowed).
        case pass
        /// A finding survived the policy.
        case fail
        /// Nothing survived, but some packages had no advisory data: "clean" would be a guess.
        case noVerdict = "no-verdict"
    }

    public var kind: Kind
    /// Findings that survived the policy.
    public var findings: Int
    /// Why the verdict cannot be clean (missing advisory data).
    public var gaps: [String]
    /// The exit status this verdict asks for.
    public var exitCode: Int32

    public init(kind: Kind, findings: Int, gaps: [String], exitCode: Int32) {
        self.kind = kind
        self.findings = findings
        self.gaps = gaps
        self.exitCode = exitCode
    }
}
