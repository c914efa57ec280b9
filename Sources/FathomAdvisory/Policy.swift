// The policy a scan is judged by: what a user filters out (severities, unfixed findings, paths),
// what they have accepted (an ignore file, Trivy-style, and VEX documents), and what makes a
// verdict (`--exit-code`, and whether missing advisory data forbids a clean one). Every front
// door applies the same value through the scan engine.
import FathomCore
public import FathomInventory
public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The filters and rules applied to findings before they are reported and judged.
public struct ScanPolicy: Sendable {
    public struct IgnoreRule: Sendable, Hashable {
        public var id: String
        public var package: String?
        /// Rules past their expiry no longer apply.
        public var expires: Date?
        /// `FILE:LINE`, for a suppressed finding's rule.
        public var origin: String

        /// Whether the rule names `finding`: its id or an alias (`waivableNames`), and its package
        /// or source package when the rule names one ("pkg:musl" covers musl-utils too).
        func names(_ finding: Finding, waivable: Set<String>? = nil) -> Bool {
            (waivable ?? finding.waivableNames).contains(id) && (package == nil || package == finding.package || package == finding.sourcePackage)
        }

        public init(id: String, package: String? = nil, expires: Date? = nil, origin: String = "") {
            self.id = id
            self.package = package
            self.expires = expires
            self.origin = origin
        }
    }

    /// A finding kept out of the report, why, and by which rule (kept in stored reports too).
    public struct Suppressed: Sendable, Hashable, Codable {
        public var id: String
        public var package: String
        public var installedVersion: String?
        /// `vex: not_affected`, `vex: fixed` or `ignore file`.
        public var reason: String
        public var justification: String?
        /// The rule: `FILE:LINE` of the ignore file, or the VEX document and statement.
        public var rule: String?
        public var severity: Severity?
        /// The finding's ecosystem and where its package was read (nil in reports written
        /// before they were kept): a suppressed finding's place, as the live one has it.
        public var ecosystem: String?
        public var path: String?

        public init(
            id: String, package: String, installedVersion: String? = nil, reason: String, justification: String? = nil, rule: String? = nil,
            severity: Severity? = nil, ecosystem: String? = nil, path: String? = nil
        ) {
            self.ecosystem = ecosystem
            self.path = path
            self.id = id
            self.package = package
            self.installedVersion = installedVersion
            self.reason = reason
            self.justification = justification
            self.rule = rule
            self.severity = severity
        }
    }

    /// Findings left out by `--severity`, `--ignore-unfixed`, `--ignore-status` and Debian's
    /// unimportant rating, counted so that a report can say
    /// what it does not show (an UNKNOWN-severity finding is no less real than a rated one).
    public struct Filtered: Sendable, Hashable, Codable {
        public var bySeverity: [String: Int] = [:]
        public var unfixed = 0
        /// Left out by `--ignore-status`, by status.
        public var byStatus: [String: Int] = [:]
        /// Debian's `unimportant` findings left out (no `--include-unimportant`).
        public var unimportant = 0
        /// Left out by `--kev-only` (not in CISA's KEV catalog).
        public var notKnownExploited = 0
        /// Left out by `--epss-threshold` (an EPSS score below it).
        public var belowEPSS = 0
        /// The severities of those `--ignore-unfixed`, `--ignore-status`, `--kev-only` and
        /// `--epss-threshold` left out: a filter that is not about severity must not hide a
        /// CRITICAL finding without saying so.
        public var othersBySeverity: [String: Int] = [:]

        public init() {}

        enum CodingKeys: String, CodingKey { case bySeverity, unfixed, byStatus, unimportant, notKnownExploited, belowEPSS, othersBySeverity }

        // Reports stored before the status filters have only the first two counts.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            bySeverity = try container.decodeIfPresent([String: Int].self, forKey: .bySeverity) ?? [:]
            unfixed = try container.decodeIfPresent(Int.self, forKey: .unfixed) ?? 0
            byStatus = try container.decodeIfPresent([String: Int].self, forKey: .byStatus) ?? [:]
            unimportant = try container.decodeIfPresent(Int.self, forKey: .unimportant) ?? 0
            notKnownExploited = try container.decodeIfPresent(Int.self, forKey: .notKnownExploited) ?? 0
            belowEPSS = try container.decodeIfPresent(Int.self, forKey: .belowEPSS) ?? 0
            othersBySeverity = try container.decodeIfPresent([String: Int].self, forKey: .othersBySeverity) ?? [:]
        }

        public var total: Int {
            bySeverity.values.reduce(0, +) + unfixed + byStatus.values.reduce(0, +) + unimportant + notKnownExploited + belowEPSS
        }

        /// Adds another image's counts (a fleet's sum).
        public mutating func add(_ other: Filtered) {
            bySeverity.merge(other.bySeverity, uniquingKeysWith: +)
            unfixed += other.unfixed
            byStatus.merge(other.byStatus, uniquingKeysWith: +)
            unimportant += other.unimportant
            notKnownExploited += other.notKnownExploited
            belowEPSS += other.belowEPSS
            othersBySeverity.merge(other.othersBySeverity, uniquingKeysWith: +)
        }

        /// One line for the report's warnings, or nil when nothing was left out.
        public var warning: String? { warning(in: "") }

        /// The same line, saying where (` in 3 images`).
        public func warning(in place: String) -> String? {
            guard total > 0 else { return nil }
            // The filters that are not about severity, each with its counts.
            var others: [(label: String, parts: [String])] = []
            if unfixed > 0 { others.append(("without a fix", ["\(unfixed) without a fix"])) }
            if !byStatus.isEmpty { others.append(("with an ignored status", byStatus.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" })) }
            if notKnownExploited > 0 { others.append(("not known exploited", ["\(notKnownExploited) not known exploited (CISA KEV)"])) }
            if belowEPSS > 0 { others.append(("below the EPSS threshold", ["\(belowEPSS) below the EPSS threshold"])) }
            // What they left out by severity: after the one count when one filter did, else after all.
            let severities = Severity.allCases.reversed().compactMap { severity in othersBySeverity[severity.rawValue].map { "\($0) \(severity.rawValue)" } }
            var tail = ""
            if !severities.isEmpty {
                if others.count == 1 && others[0].parts.count == 1 {
                    others[0].parts[0] += " (\(severities.joined(separator: ", ")))"
                } else {
                    tail = "; the \(othersBySeverity.values.reduce(0, +)) \(others.map(\.label).joined(separator: " or ")): \(severities.joined(separator: ", "))"
                }
            }
            // --severity's counts, the most severe first.
            let below = Severity.allCases.reversed().compactMap { severity in bySeverity[severity.rawValue].map { "\($0) \(severity.rawValue)" } }
            let parts = below + others.flatMap(\.parts)
                + (unimportant > 0 ? ["\(unimportant) unimportant (Debian)"] : [])
            return "\(total) finding\(total == 1 ? "" : "s") left out by the filters\(place): \(parts.joined(separator: ", "))" + tail
        }
    }

    /// What the policy made of an image's findings.
    public struct Outcome: Sendable {
        public var kept: [Finding] = []
        /// Findings in packages that hold a kernel, reported apart (no `--include-kernel`).
        public var kernel: [Finding] = []
        public var suppressed: [Suppressed] = []
        public var filtered = Filtered()
        /// Ignore rules past their expiry that name a finding reported again, as `FILE:LINE (ID,
        /// expired DAY)`: the finding is back, and the report says why.
        public var expiredRules: [String] = []
        /// Findings `--epss-threshold` kept for want of an EPSS score.
        public var keptWithoutEPSS = 0
        /// Every ignore rule and VEX statement (by origin) that named a suppressed finding, not
        /// only the one its suppression credits.
        public var usedRules: Set<String> = []

        /// Says which findings `--epss-threshold` kept without a score to judge them by.
        public var withoutEPSSNote: String? {
            guard keptWithoutEPSS > 0 else { return nil }
            return "\(keptWithoutEPSS) finding\(keptWithoutEPSS == 1 ? " has" : "s have") no EPSS score (no CVE id, or none in the EPSS data) "
                + "and \(keptWithoutEPSS == 1 ? "is" : "are") kept by --epss-threshold: no score is not a low one"
        }

        /// One line for the report's warnings, or nil when no expired rule named a finding.
        public var expiredNote: String? {
            guard !expiredRules.isEmpty else { return nil }
            return "ignore rule\(expiredRules.count == 1 ? "" : "s") past \(expiredRules.count == 1 ? "its" : "their") expiry no longer suppress"
                + "\(expiredRules.count == 1 ? "es" : "") \(expiredRules.count == 1 ? "its finding" : "their findings"): \(expiredRules.joined(separator: ", "))"
        }
    }

    /// Severities reported (nil: all).
    public var severities: Set<Severity>?
    public var ignoreUnfixed = false
    /// `--ignore-status`: findings whose vendor status is one of these are left out.
    public var ignoreStatuses: Set<Finding.Status> = []
    /// `--include-unimportant`: report what Debian rates unimportant.
    public var includeUnimportant = false
    /// `--include-kernel`: findings in kernel packages count as any other.
    public var includeKernel = false
    /// `--kev-only`: only what CISA lists as exploited in the wild.
    public var kevOnly = false
    /// `--epss-threshold`: leaves out findings whose EPSS score is below this (0…1); findings
    /// without a score, and those in CISA's KEV catalog, are kept.
    public var epssThreshold: Double?
    public var ignoreRules: [IgnoreRule] = []
    public var vex: [VEXStatement] = []
    /// `--skip-dirs` and `--skip-files`: packages read from these paths are left out.
    public var skips = PathSkips(directories: [], files: [])
    /// The exit status of a run in which a finding survives the policy (0: no verdict asked).
    public var exitCode: Int32 = 0
    /// Whether a verdict may be clean although some packages had no advisory data to be checked against.
    public var allowMissingData = false
    /// Whether each report names the ignore rules and VEX statements that suppressed none of its
    /// findings (`scan`: one image; a fleet says it once, of the rules no image used).
    public var notesUnusedRules = false
    public var now = Date()

    /// The ignore rules in force and the VEX statements whose origin is not among `used` (every
    /// rule that named a suppressed finding: `Outcome.usedRules`), as `FILE:LINE (ID)`: a misspelled id, a package or product
    /// that is not the image's. An expired rule is said apart, when its finding is back.
    public func unusedRules(used: Set<String>) -> [String] {
        // With its package: `pkg:muslx`, not the id, may be what is misspelt.
        let rules = ignoreRules.filter { rule in rule.expires.map { $0 > now } ?? true }.map { ($0.origin, $0.id + ($0.package.map { " pkg:\($0)" } ?? "")) }
        let statements = vex.filter(\.status.suppresses).map { ($0.origin, $0.vulnerability) }
        var said = Set<String>()
        return (rules + statements).filter { !used.contains($0.0) }.map { "\($0.0) (\($0.1))" }.filter { said.insert($0).inserted }
    }

    /// One line for a report or a run, or nil when every rule suppressed something.
    public static func unusedRulesNote(_ unused: [String], of subject: String) -> String? {
        guard !unused.isEmpty else { return nil }
        let shown = unused.prefix(10).joined(separator: ", ") + (unused.count > 10 ? ", and \(unused.count - 10) more" : "")
        return "\(unused.count) ignore rule\(unused.count == 1 ? "" : "s") or VEX statement\(unused.count == 1 ? "" : "s") suppressed nothing in \(subject) "
            + "(a misspelled id, a package or product not in \(subject == "this image" ? "it" : "them"), or one CVE of a notice that fixes others: name the notice): \(shown)"
    }

    /// The empty policy: every finding reported, no verdict asked for.
    public init() {}

    /// Parses `--severity`'s list (`CRITICAL,HIGH`); an unknown word is an error naming it.
    public static func severities(_ list: String) throws -> Set<Severity> {
        var wanted = Set<Severity>()
        for word in list.split(separator: ",") {
            guard let parsed = Severity(rawValue: word.trimmingCharacters(in: .whitespaces).uppercased()) else {
                throw FathomError(.invalidInput, "unknown severity '\(word)': use CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")
            }
            wanted.insert(parsed)
        }
        // An empty list would leave every finding out, and the report clean.
        guard !wanted.isEmpty else { throw FathomError(.invalidInput, "no severity given: use CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN") }
        return wanted
    }

    /// Parses `.fathomignore`: `ID [pkg:NAME] [exp:YYYY-MM-DD]` per line, `#` comments.
    public static func ignoreRules(_ text: String, file: String) throws -> [IgnoreRule] {
        var rules: [IgnoreRule] = []
        // By Character: a CRLF is one ("\r\n"), so lines and fields split on what is a newline
        // or whitespace, not on "\n" (a Windows-edited file was one line that ignored nothing).
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let id = fields.first else { continue }
            var rule = IgnoreRule(id: id, origin: "\(file):\(number + 1)")
            for field in fields.dropFirst() {
                if field.hasPrefix("pkg:") {
                    guard field.count > 4 else {
                        throw FathomError(.invalidInput, "line \(number + 1): 'pkg:' names no package (pkg:NAME)", path: file)
                    }
                    rule.package = String(field.dropFirst(4))
                } else if field.hasPrefix("exp:") {
                    guard let date = Self.day(String(field.dropFirst(4))) else {
                        throw FathomError(.invalidInput, "line \(number + 1): '\(field)' is not a calendar day (exp:YYYY-MM-DD)", path: file)
                    }
                    rule.expires = date.addingTimeInterval(86_400)  // the whole day stated
                } else {
                    throw FathomError(.invalidInput, "line \(number + 1): '\(field)' is neither pkg:NAME nor exp:YYYY-MM-DD", path: file)
                }
            }
            rules.append(rule)
        }
        return rules
    }

    /// One line per ignore rule past its expiry, for a fleet's summary: its images' reports name
    /// the rules whose finding is back, a summary says which rules no longer apply.
    public var expiredRuleWarnings: [String] {
        ignoreRules.compactMap { rule in
            guard let expires = rule.expires, expires <= now else { return nil }
            return "ignore rule \(rule.origin) (\(rule.id)) expired on \(Self.dayFormat(expires.addingTimeInterval(-86_400))) and no longer applies"
        }
    }

    /// `date`'s calendar day in UTC, as `YYYY-MM-DD`.
    static func dayFormat(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// A calendar day `YYYY-MM-DD` (in UTC), or nil when it is not one (`2026-02-30`).
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(calendar: calendar, year: year, month: month, day: day)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// Splits findings into those reported, those suppressed (with the rule), and the counts the
    /// severity and unfixed filters left out. `purl` gives each finding's package as a purl (for
    /// VEX); `image` is the image scanned (VEX statements whose product is the image).
    public func apply(_ findings: [Finding], purl: (Finding) -> PackageURL?, image: ImageIdentity?) -> Outcome {
        var outcome = Outcome()
        for finding in findings where !skips.skips(finding.path) {
            if let (suppressed, byCVE) = waiver(of: finding, purl: purl(finding), image: image) {
                outcome.suppressed.append(suppressed)
                outcome.usedRules.formUnion(byCVE)
                let names = finding.waivableNames
                let url = purl(finding)
                for statement in vex where statement.status.suppresses && statement.names(names) && statement.covers(url, in: image) {
                    outcome.usedRules.insert(statement.origin)
                }
                for rule in ignoreRules where rule.names(finding, waivable: names) && (rule.expires.map { $0 > now } ?? true) { outcome.usedRules.insert(rule.origin) }
                continue
            }
            // Said only of a finding the report shows (kept, or among the kernel's).
            func noteExpiredRule() {
                let waivable = finding.waivableNames
                guard let rule = ignoreRules.first(where: { $0.names(finding, waivable: waivable) && ($0.expires.map { $0 <= now } ?? false) }), let expires = rule.expires
                else { return }
                let said = "\(rule.origin) (\(rule.id), expired \(Self.dayFormat(expires.addingTimeInterval(-86_400))))"
                if !outcome.expiredRules.contains(said) { outcome.expiredRules.append(said) }
            }
            if !includeKernel && KernelPackages.holdsKernel(ecosystem: finding.ecosystem, name: finding.package) {
                outcome.kernel.append(finding)
                noteExpiredRule()
                continue
            }
            if finding.unimportant == true && !includeUnimportant {
                outcome.filtered.unimportant += 1
                continue
            }
            if ignoreStatuses.contains(finding.status) {
                outcome.filtered.byStatus[finding.status.rawValue, default: 0] += 1
                outcome.filtered.othersBySeverity[finding.severity.rawValue, default: 0] += 1
                continue
            }
            if ignoreUnfixed && finding.fixedVersion == nil {
                outcome.filtered.unfixed += 1
                outcome.filtered.othersBySeverity[finding.severity.rawValue, default: 0] += 1
                continue
            }
            if kevOnly && finding.kev == nil {
                outcome.filtered.notKnownExploited += 1
                outcome.filtered.othersBySeverity[finding.severity.rawValue, default: 0] += 1
                continue
            }
            // A score below the threshold leaves a finding out; no score (no CVE id, or none in
            // the EPSS data) is not a low one, and what CISA lists as exploited stays whatever
            // its score: both are kept, and counted.
            var unscored = false
            if let epssThreshold, finding.kev == nil {
                if let score = finding.epss?.score {
                    if score < epssThreshold {
                        outcome.filtered.belowEPSS += 1
                        outcome.filtered.othersBySeverity[finding.severity.rawValue, default: 0] += 1
                        continue
                    }
                } else {
                    unscored = true
                }
            }
            if let severities, !severities.contains(finding.severity) {
                outcome.filtered.bySeverity[finding.severity.rawValue, default: 0] += 1
                continue
            }
            outcome.kept.append(finding)
            if unscored { outcome.keptWithoutEPSS += 1 }
            noteExpiredRule()
        }
        return outcome
    }

    /// Why `finding` is suppressed (a VEX statement or an ignore rule), or nil.
    func suppression(of finding: Finding, purl: @autoclosure () -> PackageURL?, image: ImageIdentity?) -> Suppressed? {
        waiver(of: finding, purl: purl(), image: image)?.suppressed
    }

    /// Why `finding` is suppressed, and for a notice waived CVE by CVE the rules and statements
    /// that did it (any other waiver's are the ones naming the finding), or nil.
    private func waiver(
        of finding: Finding, purl: @autoclosure () -> PackageURL?, image: ImageIdentity?
    ) -> (suppressed: Suppressed, byCVE: [String])? {
        guard !vex.isEmpty || !ignoreRules.isEmpty else { return nil }
        let names = finding.waivableNames
        // A statement that says the package is affected (or still under investigation) wins over
        // one that says it is not: a VEX that contradicts itself suppresses nothing, and one that
        // says any CVE of a notice affects it keeps the notice. The purl is made only for the
        // statements that name the finding (most policies have none).
        let naming = vex.filter { $0.names(Set([finding.id] + finding.aliases)) }
        let url = naming.isEmpty ? nil : purl()
        let statements = naming.filter { $0.covers(url, in: image) }
        if !statements.contains(where: { !$0.status.suppresses }), let statement = statements.first(where: { $0.names(names) }) {
            return (Suppressed(
                id: finding.id, package: finding.package, installedVersion: finding.installedVersion, reason: "vex: \(statement.status.rawValue)",
                justification: statement.justification, rule: statement.origin, severity: finding.severity,
                ecosystem: finding.ecosystem, path: finding.path), [])
        }
        if let rule = ignoreRules.first(where: { $0.names(finding, waivable: names) && ($0.expires.map { $0 > now } ?? true) }) {
            return (Suppressed(
                id: finding.id, package: finding.package, installedVersion: finding.installedVersion, reason: "ignore file",
                justification: rule.expires.map { "until \(Self.dayFormat($0.addingTimeInterval(-86_400)))" }, rule: rule.origin, severity: finding.severity,
                ecosystem: finding.ecosystem, path: finding.path), [])
        }
        return noticeWaivedByCVE(finding, statements: statements.contains(where: { !$0.status.suppresses }) ? [] : statements)
    }

    /// A notice whose every CVE is waived, each by an ignore rule or each by a VEX statement of
    /// its own (`statements`: none when one says any of them affects the package, which keeps
    /// the notice from VEX as it keeps any finding).
    /// The notice fixes those CVEs and no other, so what waives them all waives it; one CVE
    /// waived does not, since the notice still fixes the others.
    private func noticeWaivedByCVE(_ finding: Finding, statements: [VEXStatement]) -> (suppressed: Suppressed, byCVE: [String])? {
        let perCVE = finding.namesPerCVE.sorted { $0.key < $1.key }
        guard !perCVE.isEmpty else { return nil }
        func suppressed(reason: String, justification: String?, origins: [String]) -> (suppressed: Suppressed, byCVE: [String]) {
            let origins = Array(Set(origins)).sorted()
            let suppressed = Suppressed(
                id: finding.id, package: finding.package, installedVersion: finding.installedVersion, reason: reason,
                justification: justification, rule: origins.joined(separator: ", "), severity: finding.severity,
                ecosystem: finding.ecosystem, path: finding.path)
            return (suppressed, origins)
        }
        // Every statement (or rule) about each CVE, so that none of them reads as unused.
        let byStatement = perCVE.map { _, names in statements.filter { $0.status.suppresses && $0.names(names) } }
        if byStatement.allSatisfy({ !$0.isEmpty }) {
            let chosen = byStatement.map { $0[0] }
            // One status and one justification for the notice, as for one vulnerability: not
            // affected when its CVEs are some fixed and some not affected (it was never fixed here).
            let status = Set(chosen.map(\.status)).count == 1 ? chosen[0].status : .notAffected
            let justification = chosen.filter { $0.status == status }.compactMap(\.justification).sorted().first
            return suppressed(reason: "vex: \(status.rawValue)", justification: justification, origins: byStatement.flatMap { $0.map(\.origin) })
        }
        let byRule = perCVE.map { _, names in
            ignoreRules.filter { $0.names(finding, waivable: names) && ($0.expires.map { $0 > now } ?? true) }
        }
        guard byRule.allSatisfy({ !$0.isEmpty }) else { return nil }
        // Each CVE is waived until its last rule ends (for ever with one that does not); the
        // notice, until the first CVE's waiver ends.
        let lastDays = byRule.map { rules in rules.contains { $0.expires == nil } ? nil : rules.compactMap(\.expires).max() }
        let until = lastDays.compactMap { $0 }.min().map { "until \(Self.dayFormat($0.addingTimeInterval(-86_400)))" }
        return suppressed(reason: "ignore file", justification: until, origins: byRule.flatMap { $0.map(\.origin) })
    }

    /// Whether the policy reports a finding known only by its stored summary (a finding a
    /// change table lists as resolved: it is no longer in the image, so only its id, package,
    /// version, fix and severity are known).
    public func reports(id: String, package: String, installedVersion: String, fixed: Bool, severity: Severity, purl: PackageURL?, image: ImageIdentity?) -> Bool {
        // Known by one id, it may be named by the other: the CVE a distribution's record of it
        // is reported by, or the record an earlier scan reported it by.
        let named = ignoreRules.map(\.id) + vex.flatMap { [$0.vulnerability] + $0.aliases }
        let aliases = Array(Set(named.filter { other in
            other != id && (ImageMatcher.presentedID(of: other, aliases: [id]) == id || ImageMatcher.presentedID(of: id, aliases: [other]) == other)
        }))
        let finding = Finding(
            id: id, aliases: aliases, ecosystem: "", package: package, sourcePackage: nil, installedVersion: installedVersion,
            fixedVersion: fixed ? "" : nil, status: fixed ? .fixed : .affected, severity: severity, severitySource: nil, cvss: [],
            layerIndex: 0, path: "", source: "", title: nil, references: [])
        if suppression(of: finding, purl: purl, image: image) != nil { return false }
        if ignoreUnfixed && !fixed { return false }
        if fixed && ignoreStatuses.contains(.fixed) { return false }
        if let severities, !severities.contains(severity) { return false }
        return true
    }
}

/// `--skip-dirs` and `--skip-files`: shell globs (fnmatch(3); `*` also crosses `/`, so `**` works
/// as Trivy users write it) over paths in the image, without the leading slash.
public struct PathSkips: Sendable, Hashable {
    public let directories: [String]
    public let files: [String]

    public init(directories: [String], files: [String]) {
        func clean(_ pattern: String) -> String {
            var pattern = pattern
            while pattern.hasPrefix("/") { pattern.removeFirst() }
            while pattern.hasSuffix("/") { pattern.removeLast() }
            return pattern
        }
        self.directories = directories.map(clean)
        self.files = files.map(clean)
    }

    public var isEmpty: Bool { directories.isEmpty && files.isEmpty }

    /// The patterns that match none of `paths`: a typo there would silently skip nothing.
    public func unmatched(in paths: [String]) -> [String] {
        let directoryMisses = directories.filter { pattern in !paths.contains(where: PathSkips(directories: [pattern], files: []).skips) }
        let fileMisses = files.filter { pattern in !paths.contains(where: PathSkips(directories: [], files: [pattern]).skips) }
        return directoryMisses.map { "--skip-dirs '\($0)'" } + fileMisses.map { "--skip-files '\($0)'" }
    }

    /// Whether the file at `path` (or a directory it is in) is skipped.
    public func skips(_ path: String) -> Bool {
        guard !isEmpty else { return false }
        let path = path.hasPrefix("/") ? String(path.drop { $0 == "/" }) : path
        if files.contains(where: { fnmatch($0, path, 0) == 0 }) { return true }
        var directory = path
        while let slash = directory.lastIndex(of: "/") {
            directory = String(directory[..<slash])
            if directories.contains(where: { fnmatch($0, directory, 0) == 0 }) { return true }
        }
        return false
    }
}

extension ScanPolicy {
    /// Reads the ignore file and the VEX documents into this policy (replacing what it had from
    /// files); an unreadable or malformed file is an error naming it. `warn` hears of VEX
    /// statements that can apply to nothing.
    public mutating func read(ignoreFile: String?, vex files: [String], warn: (String) -> Void = { _ in }) throws {
        ignoreRules = []
        vex = []
        if let ignoreFile {
            guard let data = FileManager.default.contents(atPath: ignoreFile) else {
                throw FathomError(.io, "cannot read the ignore file (no such file, or not readable)", path: ignoreFile)
            }
            ignoreRules = try Self.ignoreRules(String(decoding: data, as: UTF8.self), file: ignoreFile)
        }
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FathomError(.io, "cannot read the VEX document (no such file, or not readable)", path: path)
            }
            vex += try VEXDocument.statements([UInt8](data), file: path, warn: warn)
        }
    }
}

/// A policy given with one scan request (`POST /v1/scans`): it joins the service's for that
/// image, and is kept in the image's report so that every rescan judges the image by it too.
/// Its parts are structured (ignore rules as objects, VEX as statements in OpenVEX's shape), so
/// that what the API's schema allows is exactly what is accepted; whole VEX documents are the
/// service's `--vex` files.
public struct RequestPolicy: Codable, Sendable, Hashable {
    /// One ignore rule: the vulnerability, optionally its package, optionally its last day.
    public struct IgnoreEntry: Codable, Sendable, Hashable {
        public var id: String
        public var package: String?
        /// `YYYY-MM-DD`: the rule applies through that day.
        public var expires: String?

        public enum CodingKeys: String, CodingKey, CaseIterable { case id, package, expires }
    }

    /// One VEX statement: a vulnerability's status in products (purls, or the image as
    /// `pkg:oci/…` or `[host/]repository:tag`) and, for the image, the subcomponents it names.
    public struct Statement: Codable, Sendable, Hashable {
        public var vulnerability: String
        public var status: VEXStatement.Status
        public var products: [String]
        public var subcomponents: [String]?
        public var justification: String?

        public enum CodingKeys: String, CodingKey, CaseIterable { case vulnerability, status, products, subcomponents, justification }
    }

    /// Severities reported (`["HIGH", "CRITICAL"]`).
    public var severity: [Severity]?
    public var ignoreUnfixed: Bool?
    /// Vendor statuses left out (`["will_not_fix"]`), as `--ignore-status`.
    public var ignoreStatus: [Finding.Status]?
    /// Report Debian's unimportant findings, as `--include-unimportant`.
    public var includeUnimportant: Bool?
    /// Count findings in kernel packages as any other, as `--include-kernel`.
    public var includeKernel: Bool?
    /// Only findings CISA lists as exploited, as `--kev-only`.
    public var kevOnly: Bool?
    /// Only findings with at least this EPSS score (0…1), as `--epss-threshold`.
    public var epssThreshold: Double?
    public var ignore: [IgnoreEntry]?
    public var vex: [Statement]?
    public var skipDirs: [String]?
    public var skipFiles: [String]?

    /// Its members' names: a request naming another (`severities`, `ignore_unfixed`) is refused,
    /// not scanned without the rule it meant.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case severity, ignoreUnfixed, ignoreStatus, includeUnimportant, includeKernel, kevOnly, epssThreshold, ignore, vex, skipDirs, skipFiles
    }

    /// A request that adds nothing (each part is set as it is given).
    public init() {}

    /// `base` with this request's rules added (its ignore rules and VEX statements join the
    /// base's; its filters apply); an invalid part is an error naming it.
    public func applied(to base: ScanPolicy) throws -> ScanPolicy {
        var policy = base
        if let severity {
            guard !severity.isEmpty else { throw FathomError(.invalidInput, "the request's severity list is empty: it would report nothing") }
            policy.severities = Set(severity)
        }
        if let ignoreUnfixed { policy.ignoreUnfixed = ignoreUnfixed }
        if let includeKernel { policy.includeKernel = includeKernel }
        if let kevOnly { policy.kevOnly = kevOnly }
        if let epssThreshold {
            guard (0...1).contains(epssThreshold) else {
                throw FathomError(.invalidInput, "the request's epssThreshold \(epssThreshold) is not a probability (0 to 1)")
            }
            policy.epssThreshold = epssThreshold
        }
        if let ignoreStatus { policy.ignoreStatuses = Set(ignoreStatus) }
        if let includeUnimportant { policy.includeUnimportant = includeUnimportant }
        for (number, entry) in (ignore ?? []).enumerated() {
            let origin = "the request's ignore rule \(number + 1)"
            guard !entry.id.isEmpty, !entry.id.contains(where: \.isWhitespace) else {
                throw FathomError(.invalidInput, "\(origin): id '\(entry.id)' must be one word (CVE-…, GHSA-…)")
            }
            if let package = entry.package, package.isEmpty || package.contains(where: \.isWhitespace) {
                throw FathomError(.invalidInput, "\(origin): package '\(package)' must be one word")
            }
            var rule = ScanPolicy.IgnoreRule(id: entry.id, package: entry.package, origin: origin)
            if let expires = entry.expires {
                guard let day = ScanPolicy.day(expires) else {
                    throw FathomError(.invalidInput, "\(origin): expires '\(expires)' is not a date (YYYY-MM-DD)")
                }
                rule.expires = day.addingTimeInterval(86_400)  // the whole day stated
            }
            policy.ignoreRules.append(rule)
        }
        for (number, statement) in (vex ?? []).enumerated() {
            let origin = "the request's VEX statement \(number + 1)"
            guard !statement.vulnerability.isEmpty, !statement.vulnerability.contains(where: \.isWhitespace) else {
                throw FathomError(.invalidInput, "\(origin): vulnerability '\(statement.vulnerability)' must be one word (CVE-…, GHSA-…)")
            }
            guard !statement.products.isEmpty else { throw FathomError(.invalidInput, "\(origin) names no product") }
            let subcomponents = statement.subcomponents ?? []
            let products = statement.products.map { id in
                VEXStatement.Product(
                    id: id, subcomponents: subcomponents.compactMap { try? PackageURL(parsing: $0) }, listsSubcomponents: !subcomponents.isEmpty)
            }
            policy.vex.append(
                VEXStatement(
                    vulnerability: statement.vulnerability, status: statement.status, justification: statement.justification, products: products,
                    origin: origin))
        }
        if skipDirs != nil || skipFiles != nil {
            policy.skips = PathSkips(
                directories: base.skips.directories + (skipDirs ?? []), files: base.skips.files + (skipFiles ?? []))
        }
        return policy
    }

}
