import FathomAdvisory
import FathomCore
import FathomOCI
public import FathomStore
import Foundation

/// Plain-text tables for terminals, aligned on display columns.
public struct TextTable {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(headers: [String]) { self.headers = headers }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The table; with `width`, a line longer than it has its last cell cut (with "…").
    public func render(width: Int? = nil) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            let text = cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
            guard let width, text.count > width, width > 20 else { return text }
            return String(text.prefix(width - 1)) + "…"
        }
        var output = line(headers) + "\n"
        output += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in rows { output += line(row) + "\n" }
        return output
    }
}

extension ScanReport {
    /// Where a finding's severity came from: the source and, when a CVSS score decided it, the
    /// score and version ("nvd 9.8 v3.1"); "-" when nothing rates it.
    /// `KEV` when CISA lists it (with `ransomware` when known), and the EPSS score.
    static func exploited(_ finding: ScanReport.Vulnerability) -> String {
        var parts: [String] = []
        if let kev = finding.kev { parts.append(kev.knownRansomware ? "KEV ransomware" : "KEV") }
        if let epss = finding.epss { parts.append("EPSS \(ScanReport.Vulnerability.percent(epss.score))") }
        return parts.isEmpty ? "-" : parts.joined(separator: " ")
    }

    static func ratedBy(_ finding: ScanReport.Vulnerability) -> String {
        guard let source = finding.severitySource else { return "-" }
        let scores = finding.cvss.filter { $0.source == source && $0.severity == finding.severity }
        guard let score = scores.min(by: CVSSScore.preferred) else {
            return source
        }
        return "\(score.attribution) \(score.score) v\(score.version)"
    }

    /// How the table is drawn.
    public struct TableOptions: Sendable {
        /// The package and layer lists too (Trivy's `--list-all-pkgs`); vulnerabilities only otherwise.
        public var listAllPackages = false
        /// The suppressed findings, with why.
        public var showSuppressed = false
        /// ANSI colours for the severities (a terminal, and `NO_COLOR` unset).
        public var colour = false
        /// The terminal's width: cells of the last column are cut to fit it.
        public var width: Int?

        public init(listAllPackages: Bool = false, showSuppressed: Bool = false, colour: Bool = false, width: Int? = nil) {
            self.listAllPackages = listAllPackages
            self.showSuppressed = showSuppressed
            self.colour = colour
            self.width = width
        }
    }

    static func paint(_ text: String, _ severity: String, _ colour: Bool) -> String {
        guard colour else { return text }
        let code =
            switch severity {
            case "CRITICAL": "1;31"
            case "HIGH": "31"
            case "MEDIUM": "33"
            case "LOW": "34"
            default: "2"
            }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// The human-readable form: what is vulnerable and how to fix it first; the image's
    /// identity above it; the packages and layers with `listAllPackages`.
    public func table(_ options: TableOptions = TableOptions()) -> String {
        var output = "Image:    \(artifact.name)\n"
        if let digest = artifact.manifestDigest { output += "Manifest: \(digest)\n" }
        if let platform = artifact.platform { output += "Platform: \(platform)\n" }
        if let os {
            output += "OS:       \(os.prettyName ?? os.id) (\(os.id) \(os.versionID ?? "?"))"
                + (os.endOfSupport.map { " · end of support \($0)" } ?? "") + "\n"
        } else {
            output += "OS:       unknown (no os-release)\n"
        }
        output += "Packages: \(packages.count)" + (isSBOM ? " listed by the SBOM" : " in \(layers.count) layer\(layers.count == 1 ? "" : "s")")
            + (options.listAllPackages ? "" : " (--list-all-pkgs lists them)") + "\n"
        if summary.advisoriesLoaded {
            let counts = Severity.allCases.reversed().map {
                Self.paint("\($0.rawValue): \(summary.bySeverity[$0.rawValue] ?? 0)", $0.rawValue, options.colour && (summary.bySeverity[$0.rawValue] ?? 0) > 0)
            }
            output += "\nVulnerabilities: \(summary.total) (\(counts.joined(separator: ", "))), \(summary.fixable) fixable\n"
            let exploited = vulnerabilities.filter { $0.kev != nil }
            if !exploited.isEmpty {
                // Findings and the vulnerabilities they are of, counted apart (one CVE in two packages).
                let ids = Set(exploited.map(\.id)).sorted()
                let counted = exploited.count == ids.count
                    ? "\(ids.count)" : "\(exploited.count) findings of \(ids.count) vulnerabilit\(ids.count == 1 ? "y" : "ies")"
                output += Self.paint(
                    "Exploited in the wild (CISA KEV): \(counted) (\(ids.prefix(5).joined(separator: ", "))\(ids.count > 5 ? ", …" : ""))", "CRITICAL", options.colour) + "\n"
            }
            if let coverage {
                output += "Checked against: \(coverage.checkedAgainst.isEmpty ? "nothing" : coverage.checkedAgainst.joined(separator: ", "))\n"
                for gap in uncheckedWarnings { output += "NOT CHECKED: \(gap)\n" }
            }
            for severity in Severity.allCases.reversed() {
                let group = vulnerabilities.filter { $0.severity == severity }
                guard !group.isEmpty else { continue }
                output += "\n" + Self.paint("\(severity.rawValue) (\(group.count))", severity.rawValue, options.colour) + "\n"
                var table = TextTable(headers: ["ID", "PACKAGE", "INSTALLED", "FIXED", "RATED BY", "EXPLOITED", "ALIASES"])
                for finding in group {
                    table.append([
                        // A groupless jar matched under the advisories' one group says so.
                        finding.id, finding.package + (finding.matchedAs.map { " (as \($0))" } ?? ""), finding.installedVersion,
                        finding.fixedVersion ?? "(\(finding.status.rawValue))", Self.ratedBy(finding), Self.exploited(finding), finding.aliases.prefix(2).joined(separator: ","),
                    ])
                }
                output += table.render(width: options.width)
            }
            if let kernel, !kernel.isEmpty {
                output += "\nKernel packages (\(kernel.count); not in the verdict: a container runs on its host's kernel)\n"
                var table = TextTable(headers: ["ID", "PACKAGE", "INSTALLED", "FIXED", "SEVERITY"])
                for finding in kernel {
                    table.append([
                        finding.id, finding.package, finding.installedVersion, finding.fixedVersion ?? "(\(finding.status.rawValue))", finding.severity.rawValue,
                    ])
                }
                output += table.render(width: options.width)
            }
            if !remediation.isEmpty {
                output += "\nRemediation\n"
                for step in remediation {
                    // An SBOM's packages have no layer to name.
                    let origin = isSBOM ? "" : "; from the " + (step.fromBaseLayer ? "base layer" : "layer \(step.layerIndex)")
                    if let problem = step.problem {
                        output += "  \(step.package) \(step.installedVersion): no single upgrade can be named (see the warning: \(problem))\n"
                    } else if let target = step.upgradeTo {
                        output += "  upgrade \(step.package) from \(step.installedVersion) to >= \(target) (fixes \(step.fixes), highest \(step.highestSeverity.rawValue)\(origin))\n"
                    } else {
                        output += "  \(step.package) \(step.installedVersion): \(step.unfixed) without a fix yet (highest \(step.highestSeverity.rawValue)\(origin))\n"
                    }
                }
            }
            if !suppressed.isEmpty {
                if options.showSuppressed {
                    output += "\nSuppressed (\(suppressed.count))\n"
                    var table = TextTable(headers: ["ID", "PACKAGE", "WHY"])
                    for entry in suppressed {
                        // Which rule: the line of the ignore file or the VEX statement to look at.
                        table.append([entry.id, entry.package, entry.reason + (entry.justification.map { " (\($0))" } ?? "") + (entry.rule.map { ": \($0)" } ?? "")])
                    }
                    output += table.render(width: options.width)
                } else {
                    output += "\n\(suppressed.count) suppressed finding\(suppressed.count == 1 ? "" : "s") not shown (--show-suppressed)\n"
                }
            }
        } else {
            output += "\nNo advisory data: import some with `fathom db import PATH…`.\n"
        }
        if options.listAllPackages {
            output += "\n"
            var table = TextTable(headers: ["#", "DIGEST", "COMPRESSION", "SIZE", "UNCOMPRESSED", "FILES"])
            for layer in layers {
                table.append([
                    "\(layer.index)", "\(layer.digest.algorithm.rawValue):\(layer.digest.short)", layer.compression.rawValue,
                    Self.bytes(layer.size), Self.bytes(layer.uncompressedSize), "\(layer.files)",
                ])
            }
            output += table.render(width: options.width)
            if !packages.isEmpty {
                output += "\n"
                var packageTable = TextTable(headers: ["PACKAGE", "VERSION", "ECOSYSTEM", "LAYER"])
                for package in packages {
                    packageTable.append([package.name, package.version, package.ecosystem, package.layer.short])
                }
                output += packageTable.render(width: options.width)
            }
        }
        if let changes { output += changes.table() }
        // Coverage gaps are shown beside the vulnerability count already.
        let shown = Set(uncheckedWarnings)
        for warning in warnings where !shown.contains(warning) { output += "warning: \(warning)\n" }
        return output
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}

extension ScanChanges {
    /// "Since the previous scan": counts, then each new and resolved finding.
    public func table() -> String {
        guard let previousScannedAt else { return "" }
        let when = ISO8601DateFormatter().string(from: previousScannedAt)
        var output = "\nSince the previous scan (\(when)\(imageChanged ? ", a different image" : "")): "
        output += "\(new.count) new, \(resolved.count) resolved, \(unchanged) unchanged"
        if let fixChanged { output += " (\(fixChanged.count) of them with another fixed version)" }
        if let notChecked {
            output += ", \(notChecked.count) not checked this time (not resolved: see what was not checked)"
        }
        return output + "\n" + Self.table(new: new, resolved: resolved, notChecked: notChecked ?? [], fixChanged: fixChanged ?? [])
    }

    /// One row per new and per resolved finding; empty when there are none.
    static func table(new: [StoredFinding], resolved: [StoredFinding], notChecked: [StoredFinding] = [], fixChanged: [StoredFinding] = []) -> String {
        guard !new.isEmpty || !resolved.isEmpty || !notChecked.isEmpty || !fixChanged.isEmpty else { return "" }
        // A language package's path tells two copies at one version apart.
        let paths = (new + resolved + notChecked + fixChanged).contains { $0.path != nil }
        var table = TextTable(headers: ["CHANGE", "ID", "PACKAGE", "VERSION", "FIXED", "SEVERITY"] + (paths ? ["PATH"] : []))
        for (label, findings) in [("new", new), ("resolved", resolved), ("not checked", notChecked), ("fix changed", fixChanged)] {
            for finding in findings {
                // A fix that moved shows from what to what.
                let fixed = label == "fix changed" ? "\(finding.previousFixedVersion ?? "-") → \(finding.fixedVersion ?? "-")" : finding.fixedVersion ?? "-"
                // A resolved finding says why: an upgrade shows from what to what (the fix confirmed).
                let change = finding.resolution.map { "\(label): \($0.rawValue)" } ?? label
                let version = finding.currentVersion.map { "\(finding.installedVersion) → \($0)" } ?? finding.installedVersion
                table.append(
                    [change, finding.id, finding.package, version, fixed, finding.severity]
                        + (paths ? [finding.path ?? "-"] : []))
            }
        }
        return table.render()
    }
}
