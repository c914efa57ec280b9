import FathomAdvisory
import FathomCore
import FathomInventory
import Foundation

/// SARIF 2.1.0 (OASIS), as code-scanning dashboards read it: one rule per advisory, with
/// help text, links and the `security-severity` they rank by; one result per finding, located
/// at the file the package was read from (its layer in the result's properties). A finding an
/// ignore rule or a VEX statement suppressed is a result too, with SARIF's `suppressions` (why,
/// and by which rule), so a dashboard shows it dismissed, not fixed.
extension ScanReport {
    public func sarif() throws -> String {
        var rules: [JSONValue] = []
        var ruleIndex: [String: Int] = [:]
        for vulnerability in vulnerabilities where ruleIndex[vulnerability.id] == nil {
            ruleIndex[vulnerability.id] = rules.count
            rules.append(Self.rule(vulnerability, all: vulnerabilities.filter { $0.id == vulnerability.id }))
        }
        let purls = packageURLs
        let indexes = packageIndexes
        var results: [JSONValue] = vulnerabilities.map { vulnerability in
            let purl = indexes[Self.packageKey(vulnerability)].flatMap { purls[$0] }
            let path = vulnerability.path.hasPrefix("/") ? String(vulnerability.path.dropFirst()) : vulnerability.path
            return [
                "ruleId": .string(vulnerability.id),
                "ruleIndex": .number(Double(ruleIndex[vulnerability.id]!)),
                // What attackers exploit today is never a note, whatever its rating.
                "level": .string(vulnerability.kev != nil ? "error" : Self.level(vulnerability.severity)),
                "message": ["text": .string(vulnerability.summaryLine)],
                "locations": [
                    [
                        "physicalLocation": [
                            "artifactLocation": ["uri": .string(path), "uriBaseId": "ROOTPATH"],
                            "region": ["startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1],
                        ],
                        "message": ["text": .string("\(artifact.name): \(vulnerability.path) in layer \(vulnerability.layer)")],
                    ]
                ],
                // The same finding in the same place keeps its fingerprint across scans.
                "partialFingerprints": [
                    "fathom/v1": .string("\(vulnerability.id):\(vulnerability.ecosystem):\(vulnerability.package):\(vulnerability.path)")
                ],
                "properties": [
                    "package": .string(vulnerability.package), "installedVersion": .string(vulnerability.installedVersion),
                    "fixedVersion": JSONValue(vulnerability.fixedVersion), "severity": .string(vulnerability.severity.rawValue),
                    "status": .string(vulnerability.status.rawValue), "vendorStatus": JSONValue(vulnerability.vendorStatus),
                    "knownExploited": .bool(vulnerability.kev != nil), "kevDateAdded": JSONValue(vulnerability.kev?.dateAdded),
                    "kevDueDate": JSONValue(vulnerability.kev?.dueDate), "kevKnownRansomware": vulnerability.kev.map { .bool($0.knownRansomware) } ?? .null,
                    "epss": vulnerability.epss.map { .number($0.score) } ?? .null, "epssPercentile": vulnerability.epss.map { .number($0.percentile) } ?? .null,
                    "severitySource": JSONValue(vulnerability.severitySource), "layer": .string(vulnerability.layer.description),
                    "purl": JSONValue(purl?.description), "source": .string(vulnerability.source),
                ],
            ]
        }
        for suppressed in suppressed {
            if ruleIndex[suppressed.id] == nil {
                ruleIndex[suppressed.id] = rules.count
                rules.append(Self.rule(suppressed))
            }
            results.append(result(suppressed, ruleIndex: ruleIndex[suppressed.id]!))
        }
        var imageProperties: [String: JSONValue] = ["imageName": .string(artifact.name), "configDigest": .string(artifact.configDigest.description)]
        if let digest = artifact.manifestDigest { imageProperties["manifestDigest"] = .string(digest.description) }
        if !artifact.repoTags.isEmpty { imageProperties["repoTags"] = .array(artifact.repoTags.map(JSONValue.string)) }
        if let os { imageProperties["os"] = .string([os.id, os.versionID].compactMap { $0 }.joined(separator: " ")) }
        var run: [String: JSONValue] = [
            "tool": [
                "driver": [
                    "name": "fathom", "fullName": .string("fathom \(FathomVersionInfo.version)"),
                    "version": .string(FathomVersionInfo.version),
                    "rules": .array(rules),
                ]
            ],
            "results": .array(results),
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": ["ROOTPATH": ["uri": "file:///"]],
            "properties": .object(imageProperties),
        ]
        // The report's warnings (what was not checked among them) as the run's notifications,
        // so a code-scanning view shows why a run with no results may not be clean.
        if !warnings.isEmpty {
            run["invocations"] = [
                [
                    "executionSuccessful": true,
                    "toolExecutionNotifications": .array(warnings.map { ["level": "warning", "message": ["text": .string($0)]] }),
                ]
            ]
        }
        let document: JSONValue = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [.object(run)],
        ]
        return try Self.encode(document)
    }

    /// SARIF's levels: CRITICAL and HIGH are errors, MEDIUM a warning, the rest notes.
    static func level(_ severity: Severity) -> String {
        switch severity {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .unknown: "note"
        }
    }

    /// The number code-scanning UIs rank by: the highest CVSS base score, else a score in the
    /// middle of the severity's CVSS band (as GitHub maps its own levels).
    static func securitySeverity(_ vulnerability: Vulnerability) -> String {
        if let score = vulnerability.highestScore { return String(format: "%.1f", score.score) }
        return securitySeverity(of: vulnerability.severity)
    }

    static func securitySeverity(of severity: Severity) -> String {
        switch severity {
        case .critical: return "9.5"
        case .high: return "8.0"
        case .medium: return "5.5"
        case .low: return "2.0"
        case .unknown: return "0.0"
        }
    }

    static func rule(_ vulnerability: Vulnerability, all: [Vulnerability]) -> JSONValue {
        // One rule per id: a CVE in musl and musl-utils (or in two Debian source packages) names them all.
        let title = vulnerability.title ?? "\(vulnerability.id) in \(Set(all.map(\.package)).sorted().joined(separator: ", "))"
        let packages = Set(all.map { "\($0.package) \($0.installedVersion)" }).sorted()
        let fixes = all.map { "- \($0.package) \($0.installedVersion): " + ($0.fixedVersion.map { "upgrade to \($0)" } ?? $0.noFixWords) }
        let scores = vulnerability.cvss.map { "- CVSS \($0.version) \($0.score) from \($0.attribution): `\($0.vector)`" }
        let markdown = (["**\(vulnerability.id)**: \(title)", "", "Severity **\(vulnerability.severity.rawValue)**"
            + (vulnerability.severitySource.map { " (\($0))" } ?? ""), ""] + scores + [""] + fixes + [""]
            + vulnerability.links.map { "- <\($0)>" }).joined(separator: "\n")
        return [
            "id": .string(vulnerability.id),
            "name": .string(vulnerability.ecosystem == "deb" || vulnerability.ecosystem == "apk" || vulnerability.ecosystem == "rpm"
                ? "OsPackageVulnerability" : "LanguageSpecificPackageVulnerability"),
            "shortDescription": ["text": .string(title)],
            "fullDescription": ["text": .string("\(title) (affects \(packages.joined(separator: ", ")))")],
            "helpUri": JSONValue(vulnerability.page),
            "help": ["text": .string(vulnerability.summaryLine), "markdown": .string(markdown)],
            "defaultConfiguration": ["level": .string(level(vulnerability.severity))],
            "properties": [
                "security-severity": .string(securitySeverity(vulnerability)),
                "precision": "very-high",
                "tags": ["vulnerability", "security", .string(vulnerability.severity.rawValue)],
                "aliases": .array(vulnerability.aliases.map(JSONValue.string)),
                "cvss": .array(vulnerability.cvss.map(Self.cvss)),
            ],
        ]
    }

    /// A suppressed finding's rule, from what the report keeps of it (its id, package, severity).
    static func rule(_ suppressed: ScanPolicy.Suppressed) -> JSONValue {
        let title = "\(suppressed.id) in \(suppressed.package)"
        let level = suppressed.severity.map(level) ?? "note"
        return [
            "id": .string(suppressed.id),
            "shortDescription": ["text": .string(title)],
            "fullDescription": ["text": .string(title + " (suppressed: \(suppressed.reason))")],
            "defaultConfiguration": ["level": .string(level)],
            "properties": [
                "security-severity": .string(suppressed.severity.map { securitySeverity(of: $0) } ?? "0.0"),
                "tags": .array(["vulnerability", "security"] + (suppressed.severity.map { [.string($0.rawValue)] } ?? [])),
            ],
        ]
    }

    /// A suppressed finding as a result: where its package was read (when the report lists
    /// packages), the fingerprint the finding has when it is not suppressed, and why.
    func result(_ suppressed: ScanPolicy.Suppressed, ruleIndex: Int) -> JSONValue {
        // Its own place where the report kept it; else its package, by name and version.
        let package = packages.first {
            $0.name == suppressed.package && (suppressed.installedVersion == nil || $0.version == suppressed.installedVersion)
                && (suppressed.ecosystem == nil || $0.ecosystem == suppressed.ecosystem) && (suppressed.path == nil || $0.path == suppressed.path)
        }
        let version = suppressed.installedVersion ?? package?.version
        let place = suppressed.path.flatMap { path in suppressed.ecosystem.map { (ecosystem: $0, path: path) } }
            ?? package.map { (ecosystem: $0.ecosystem, path: $0.path) }
        var why = suppressed.reason + (suppressed.justification.map { " (\($0))" } ?? "")
        if let rule = suppressed.rule { why += ", by \(rule)" }
        var result: [String: JSONValue] = [
            "ruleId": .string(suppressed.id),
            "ruleIndex": .number(Double(ruleIndex)),
            "level": .string(suppressed.severity.map(Self.level) ?? "note"),
            "message": ["text": .string("\(suppressed.id) in \(suppressed.package)\(version.map { " \($0)" } ?? ""): suppressed (\(why))")],
            "suppressions": [["kind": "external", "status": "accepted", "justification": .string(why)]],
            "properties": [
                "package": .string(suppressed.package), "installedVersion": JSONValue(version),
                "severity": JSONValue(suppressed.severity?.rawValue), "suppressed": .string(suppressed.reason),
            ],
        ]
        if let place {
            let path = place.path.hasPrefix("/") ? String(place.path.dropFirst()) : place.path
            result["locations"] = [
                [
                    "physicalLocation": [
                        "artifactLocation": ["uri": .string(path), "uriBaseId": "ROOTPATH"],
                        "region": ["startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1],
                    ]
                ]
            ]
            result["partialFingerprints"] = ["fathom/v1": .string("\(suppressed.id):\(place.ecosystem):\(suppressed.package):\(place.path)")]
        }
        return .object(result)
    }

    static func cvss(_ score: CVSSScore) -> JSONValue {
        ["source": .string(score.source), "version": .string(score.version), "vector": .string(score.vector), "score": .number(score.score)]
    }
}
