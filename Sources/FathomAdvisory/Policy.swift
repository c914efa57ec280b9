// What a user filters out: severities below a threshold, unfixed findings, an ignore file
// (`.fathomignore`, Trivy-style), and OpenVEX statements (https://github.com/openvex/spec).
import FathomCore
public import Foundation

/// The filters applied to findings before they are reported and before `--exit-code` looks.
public struct FindingPolicy: Sendable {
    public struct IgnoreRule: Sendable, Hashable {
        public var id: String
        public var package: String?
        /// Rules past their expiry no longer apply.
        public var expires: Date?
    }

    public struct VEXStatement: Sendable, Hashable {
        public var vulnerability: String
        public var status: String
        public var justification: String?
        public var products: [String]
    }

    /// A finding kept out of the report, and why.
    public struct Suppressed: Sendable, Hashable, Codable {
        public var id: String
        public var package: String
        public var reason: String
        public var justification: String?
    }

    public var severities: Set<Severity>?
    public var ignoreUnfixed = false
    public var ignoreRules: [IgnoreRule] = []
    public var vex: [VEXStatement] = []
    public var now = Date()

    public init() {}

    /// Parses `.fathomignore`: `ID [pkg:NAME] [exp:YYYY-MM-DD]` per line, `#` comments.
    public static func ignoreRules(_ text: String, file: String) throws -> [IgnoreRule] {
        var rules: [IgnoreRule] = []
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let id = fields.first else { continue }
            var rule = IgnoreRule(id: id, package: nil, expires: nil)
            for field in fields.dropFirst() {
                if field.hasPrefix("pkg:") {
                    rule.package = String(field.dropFirst(4))
                } else if field.hasPrefix("exp:"), let date = formatter.date(from: String(field.dropFirst(4))) {
                    rule.expires = date.addingTimeInterval(86_400)  // the whole day stated
                } else {
                    throw FathomError(.invalidInput, "line \(number + 1): '\(field)' is neither pkg:NAME nor exp:YYYY-MM-DD", path: file)
                }
            }
            rules.append(rule)
        }
        return rules
    }

    /// Reads an OpenVEX document's statements.
    public static func vexStatements(_ bytes: [UInt8], file: String) throws -> [VEXStatement] {
        guard let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let statements = document["statements"] as? [[String: Any]]
        else { throw FathomError(.invalidInput, "not an OpenVEX document (no statements)", path: file) }
        return statements.compactMap { statement in
            let vulnerability = (statement["vulnerability"] as? [String: Any])?["name"] as? String ?? statement["vulnerability"] as? String
            guard let vulnerability, let status = statement["status"] as? String else { return nil }
            let products = (statement["products"] as? [Any] ?? []).compactMap { ($0 as? [String: Any])?["@id"] as? String ?? $0 as? String }
            return VEXStatement(
                vulnerability: vulnerability, status: status,
                justification: statement["justification"] as? String ?? statement["impact_statement"] as? String, products: products)
        }
    }

    /// Findings left out by `--severity` and `--ignore-unfixed`, counted so that a report can say
    /// what it does not show (an UNKNOWN-severity finding is no less real than a rated one).
    public struct Filtered: Sendable, Hashable, Codable {
        public var bySeverity: [String: Int] = [:]
        public var unfixed = 0

        public var total: Int { bySeverity.values.reduce(0, +) + unfixed }

        /// One line for the report's warnings, or nil when nothing was left out.
        public var warning: String? {
            guard total > 0 else { return nil }
            var parts = bySeverity.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            if unfixed > 0 { parts.append("\(unfixed) without a fix") }
            return "\(total) finding\(total == 1 ? "" : "s") left out by the filters: \(parts.joined(separator: ", "))"
        }
    }

    /// Splits findings into those reported, those suppressed (with the reason), and the counts
    /// the severity and unfixed filters left out.
    public func apply(_ findings: [Finding]) -> (kept: [Finding], suppressed: [Suppressed], filtered: Filtered) {
        var kept: [Finding] = []
        var suppressed: [Suppressed] = []
        var filtered = Filtered()
        for finding in findings {
            let names = Set([finding.id] + finding.aliases)
            if let statement = vex.first(where: {
                names.contains($0.vulnerability) && ($0.status == "not_affected" || $0.status == "fixed")
                    && ($0.products.isEmpty || $0.products.contains { $0.contains("/\(finding.package)@") || $0.hasSuffix("/\(finding.package)") || $0.contains(finding.package) })
            }) {
                suppressed.append(Suppressed(id: finding.id, package: finding.package, reason: "vex: \(statement.status)", justification: statement.justification))
                continue
            }
            // pkg: names the binary package or its source ("pkg:musl" covers musl-utils too).
            if let rule = ignoreRules.first(where: {
                names.contains($0.id) && ($0.package == nil || $0.package == finding.package || $0.package == finding.sourcePackage)
                    && ($0.expires.map { $0 > now } ?? true)
            }) {
                suppressed.append(Suppressed(id: finding.id, package: finding.package, reason: "ignore file", justification: rule.expires.map { "until \($0)" }))
                continue
            }
            if ignoreUnfixed && finding.fixedVersion == nil {
                filtered.unfixed += 1
                continue
            }
            if let severities, !severities.contains(finding.severity) {
                filtered.bySeverity[finding.severity.rawValue, default: 0] += 1
                continue
            }
            kept.append(finding)
        }
        return (kept, suppressed, filtered)
    }
}
