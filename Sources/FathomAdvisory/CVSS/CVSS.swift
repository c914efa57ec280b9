// CVSS scores from any source (a feed's own vector, NVD's records), in one shape.
import Foundation

/// One CVSS score of a vulnerability: who gave it, which CVSS version, the vector, the base score.
public struct CVSSScore: Sendable, Hashable, Codable {
    /// The feed that carries the score (`nvd`, `osv-crates`…).
    public var source: String
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    public var version: String
    public var vector: String
    public var score: Double
    /// NVD's own analysis (`Primary`) or a CNA's (`Secondary`), when the source says.
    public var type: String?

    public init(source: String, version: String, vector: String, score: Double, type: String? = nil) {
        self.source = source
        self.version = version
        self.vector = vector
        self.score = score
        self.type = type
    }

    /// Parses a vector of any CVSS version and computes its base score; nil when the vector is
    /// not a complete, valid one.
    public init?(vector: String, source: String, type: String? = nil) {
        let trimmed = vector.trimmingCharacters(in: .whitespaces)
        let version: String
        let score: Double?
        if trimmed.hasPrefix("CVSS:4.0/") {
            (version, score) = ("4.0", CVSS4.baseScore(trimmed))
        } else if trimmed.hasPrefix("CVSS:3.1/") || trimmed.hasPrefix("CVSS:3.0/") {
            (version, score) = (String(trimmed.dropFirst(5).prefix(3)), CVSS3.baseScore(trimmed))
        } else {
            (version, score) = ("2.0", CVSS2.baseScore(trimmed))
        }
        guard let score else { return nil }
        self.init(source: source, version: version, vector: trimmed, score: score, type: type)
    }

    /// Who gave the score, as reports name it: a CNA's score that NVD carries (`Secondary`) is
    /// not NVD's own analysis, and says so.
    public var attribution: String {
        type == "Secondary" ? "\(source) (CNA)" : source
    }

    /// The qualitative rating of the score in its own version (CVSS v2 has no CRITICAL).
    public var severity: Severity {
        version == "2.0" ? Severity(v2Score: score) : Severity(score: score)
    }

    /// Which of several scores to rank a finding by: NVD's own analysis before a CNA's, then
    /// the newest CVSS version, then the higher score.
    public static func preferred(_ lhs: CVSSScore, over rhs: CVSSScore) -> Bool {
        func rank(_ score: CVSSScore) -> (Int, Int, Double) {
            (score.type == "Secondary" ? 0 : 1, ["2.0": 0, "3.0": 1, "3.1": 2, "4.0": 3][score.version] ?? -1, score.score)
        }
        return rank(lhs) > rank(rhs)
    }
}

/// CVSS's "round to one decimal, halves up", immune to float noise (8.6 - 7.15 is 1.4499…).
func roundHalfUp(_ value: Double) -> Double {
    ((value + 1e-6) * 10 + 0.5).rounded(.down) / 10
}

/// Finding severities, ordered.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case unknown = "UNKNOWN"
    case low = "LOW"
    case medium = "MEDIUM"
    case high = "HIGH"
    case critical = "CRITICAL"

    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }

    /// The CVSS v3/v4 qualitative rating of a base score (0.0, "None", has no rank here).
    public init(score: Double) {
        switch score {
        case 9.0...: self = .critical
        case 7.0..<9.0: self = .high
        case 4.0..<7.0: self = .medium
        case 0.1..<4.0: self = .low
        default: self = .unknown
        }
    }

    /// The CVSS v2 rating (NVD's): LOW below 4.0, MEDIUM below 7.0, else HIGH.
    init(v2Score score: Double) {
        switch score {
        case 7.0...: self = .high
        case 4.0..<7.0: self = .medium
        case 0.1..<4.0: self = .low
        default: self = .unknown
        }
    }

    /// A feed's own word for severity (GHSA's MODERATE, Debian's urgencies…).
    public init?(feedWord: String) {
        switch feedWord.uppercased() {
        case "CRITICAL": self = .critical
        case "HIGH", "IMPORTANT": self = .high
        case "MEDIUM", "MODERATE": self = .medium
        case "LOW", "NEGLIGIBLE", "UNIMPORTANT": self = .low
        default: return nil
        }
    }
}
