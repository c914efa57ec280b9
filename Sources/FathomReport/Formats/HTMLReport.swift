import FathomAdvisory
import FathomCore
public import FathomStore
public import Foundation

/// The fleet report as one self-contained HTML page (`fathom registry -f html`, and the
/// service's dashboard at `/`): severity distribution, images ranked by risk, the most
/// widespread vulnerabilities, the bases and what rebuilding them removes, what is new and
/// resolved, and the trend over the stored history. Inline CSS and SVG only: it opens without
/// network, and no script runs.
public struct FleetHTMLReport: Sendable {
    public var summary: FleetSummary
    public var trend: [TrendPoint]
    public var generatedAt: Date
    /// Where an image's name links to (the dashboard's per-image page); nil: plain text.
    public var imageLink: (@Sendable (String) -> String?)?

    public init(summary: FleetSummary, trend: [TrendPoint], generatedAt: Date = Date(), imageLink: (@Sendable (String) -> String?)? = nil) {
        self.summary = summary
        self.trend = trend
        self.generatedAt = generatedAt
        self.imageLink = imageLink
    }

    public func render() -> String {
        let total = summary.findings.values.reduce(0, +)
        var body = """
            <header><h1>fathom · fleet report</h1>
            <p class="meta">\(escapeHTML(summary.source)) · generated \(escapeHTML(HTMLPage.time(generatedAt))) · advisory data \(escapeHTML(summary.advisoryVersion))</p></header>
            <section class="cards">
            \(HTMLPage.card("images scanned", summary.images.scanned, id: "images-scanned"))
            \(HTMLPage.card("findings", total, id: "findings-total"))
            \(HTMLPage.card("critical", summary.findings["CRITICAL"] ?? 0, id: "findings-critical"))
            \(HTMLPage.card("high", summary.findings["HIGH"] ?? 0, id: "findings-high"))
            \(HTMLPage.card("exploited in the wild", summary.imagesWithExploited, id: "images-exploited"))
            \(HTMLPage.card("failed", summary.images.failed, id: "images-failed"))
            </section>
            """
        // Images whose packages were not all checked, right after the counts: their zeros prove nothing.
        if !summary.notChecked.isEmpty {
            body += "<section id=\"not-checked\"><h2>Not checked</h2><ul>" + summary.notChecked.map { "<li>\(escapeHTML($0))</li>" }.joined()
                + "</ul></section>"
        }
        if !summary.endOfSupport.isEmpty {
            body += "<section id=\"end-of-support\"><h2>Past end of support</h2><p>No more security fixes; advisories may be incomplete.</p><ul>"
                + summary.endOfSupport.map { "<li>\(escapeHTML($0.line))</li>" }.joined() + "</ul></section>"
        }
        // What attackers use today comes first: CISA's KEV findings and the images carrying them.
        body += "<section id=\"exploited\"><h2>Exploited in the wild</h2>"
        body += summary.exploitedInTheWild.isEmpty
            ? "<p>No finding is in CISA's Known Exploited Vulnerabilities catalog (or no KEV data is imported).</p>"
            : HTMLPage.table(
                ["vulnerability", "severity", "in KEV since", "ransomware", "packages", "images"],
                summary.exploitedInTheWild.map { entry in
                    [
                        HTMLPage.vulnerabilityLink(entry.id), HTMLPage.severity(entry.severity.rawValue), escapeHTML(entry.dateAdded),
                        escapeHTML(entry.knownRansomware ? "known" : "–"), escapeHTML(entry.packages.joined(separator: ", ")),
                        entry.images.map(imageCell).joined(separator: ", ") + (entry.moreImages > 0 ? escapeHTML(" and \(entry.moreImages) more") : ""),
                    ]
                })
        body += "</section><section><h2>Severity distribution</h2>\(HTMLPage.severityBars(summary.findings))</section>"
        // The trend is the store's, whose images may be more than this run's (another registry,
        // a `scan --store`): said, so that its last point and the counts above may differ.
        body += "<section><h2>Trend</h2><p class=\"meta\">Findings per day over every image in the store's history, not only this report's.</p>"
            + trendChart() + "</section>"
        body += "<section><h2>Images most at risk</h2>"
        if summary.atRisk.isEmpty {
            body += "<p>No image has findings.</p>"
        } else {
            body += HTMLPage.table(
                ["image", "critical", "high", "medium", "low", "total", "fixable", "new", "resolved"],
                summary.atRisk.map { line in
                    [imageCell(line.name)] + ["CRITICAL", "HIGH", "MEDIUM", "LOW"].map { escapeHTML("\(line.bySeverity[$0] ?? 0)") }
                        + [line.findings, line.fixable, line.new, line.resolved].map { escapeHTML("\($0)") }
                })
        }
        body += "</section><section><h2>Most widespread vulnerabilities</h2>"
        body += summary.mostWidespread.isEmpty
            ? "<p>None.</p>"
            : HTMLPage.table(
                ["vulnerability", "severity", "images", "packages"],
                summary.mostWidespread.map {
                    [HTMLPage.vulnerabilityLink($0.id), HTMLPage.severity($0.severity.rawValue), escapeHTML("\($0.images)"), escapeHTML($0.packages.joined(separator: ", "))]
                })
        body += "</section><section><h2>Bases</h2><p class=\"note\">Findings a shared base brings, the images that inherit them, and what rebuilding on a newer tag of the same repository removes.</p>"
        body += summary.bases.isEmpty
            ? "<p>No base is shared by the scanned images.</p>"
            : HTMLPage.table(
                ["base", "images", "findings", "critical", "high", "fix"],
                summary.bases.map {
                    [escapeHTML($0.label), escapeHTML("\($0.images)"), escapeHTML("\($0.findings)"), escapeHTML("\($0.bySeverity["CRITICAL"] ?? 0)"),
                     escapeHTML("\($0.bySeverity["HIGH"] ?? 0)"), escapeHTML($0.rebuild?.advice ?? "–")]
                })
        let changed = summary.mostAtRisk.filter { $0.new > 0 || $0.resolved > 0 }
        body += "</section><section><h2>New and resolved since the previous scans</h2>"
        body += changed.isEmpty
            ? "<p>No image among those listed changed since its previous scan.</p>"
            : HTMLPage.table(["image", "new", "resolved"], changed.map { [imageCell($0.name), escapeHTML("\($0.new)"), escapeHTML("\($0.resolved)")] })
        body += "</section>"
        if !summary.failures.isEmpty {
            body += "<section><h2>Failed</h2>" + HTMLPage.table(["image", "reason"], summary.failures.map { [escapeHTML($0.name), escapeHTML($0.reason)] }) + "</section>"
        }
        if !summary.warnings.isEmpty {
            body += "<section><h2>Warnings</h2><ul>" + summary.warnings.map { "<li>\(escapeHTML($0))</li>" }.joined() + "</ul></section>"
        }
        return HTMLPage.document(title: "fathom fleet report", body: body)
    }

    private func imageCell(_ name: String) -> String {
        if let link = imageLink?(name) { return "<a href=\"\(escapeHTML(link))\">\(escapeHTML(name))</a>" }
        return escapeHTML(name)
    }

    /// Findings per day, one line per severity and the total, as inline SVG.
    private func trendChart() -> String {
        guard !trend.isEmpty else { return "<p>No stored history yet.</p>" }
        let (width, height, left, bottom) = (760.0, 220.0, 48.0, 28.0)
        let peak = max(1, trend.map(\.findings).max() ?? 1)
        func x(_ index: Int) -> Double { trend.count == 1 ? left + (width - left) / 2 : left + Double(index) * (width - left - 12) / Double(trend.count - 1) }
        func y(_ value: Int) -> Double { (height - bottom) - Double(value) / Double(peak) * (height - bottom - 12) }
        var svg = "<svg class=\"trend\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"findings per day\">"
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width)\" y2=\"\(y(0))\" class=\"axis\"/>"
        svg += "<text x=\"4\" y=\"\(y(peak) + 4)\" class=\"label\">\(peak)</text><text x=\"4\" y=\"\(y(0))\" class=\"label\">0</text>"
        let series: [(String, (TrendPoint) -> Int)] = [("total", { $0.findings })] + ["CRITICAL", "HIGH", "MEDIUM", "LOW"].map { severity in
            (severity, { $0.bySeverity[severity] ?? 0 })
        }
        for (name, value) in series {
            let points = trend.enumerated().map { "\(x($0.offset)),\(y(value($0.element)))" }.joined(separator: " ")
            svg += "<polyline class=\"series \(name.lowercased())\" points=\"\(points)\"/>"
            for (index, point) in trend.enumerated() {
                svg += "<circle class=\"series \(name.lowercased())\" cx=\"\(x(index))\" cy=\"\(y(value(point)))\" r=\"3\"><title>\(escapeHTML(point.day)): \(value(point)) \(name.lowercased())</title></circle>"
            }
        }
        for (index, point) in trend.enumerated() where trend.count <= 12 || index % max(1, trend.count / 8) == 0 {
            svg += "<text x=\"\(x(index))\" y=\"\(height - 8)\" class=\"label\" text-anchor=\"middle\">\(escapeHTML(point.day))</text>"
        }
        svg += "</svg><p class=\"legend\">" + series.map { "<span class=\"key \($0.0.lowercased())\">\($0.0.lowercased())</span>" }.joined(separator: " ")
            + " · the fleet's findings at the end of each day, every image counted as it stood then</p>"
        return svg
    }
}

extension ScanReport {
    /// One image's report as an HTML page (the dashboard's per-image view).
    public func html(backLink: String? = nil) -> String {
        var body = "<header>"
        if let backLink { body += "<p><a href=\"\(escapeHTML(backLink))\">← fleet</a></p>" }
        body += "<h1>\(escapeHTML(artifact.name))</h1><p class=\"meta\">"
        body += [artifact.manifestDigest.map { "digest \($0)" }, os.map { "OS \($0.prettyName ?? $0.id)" }, artifact.platform]
            .compactMap { $0 }.map { escapeHTML($0) }.joined(separator: " · ")
        body += "</p>"
        if let coverage {
            body += "<p class=\"meta\" id=\"checked-against\">Checked against: "
                + escapeHTML(coverage.checkedAgainst.isEmpty ? "nothing" : coverage.checkedAgainst.joined(separator: ", ")) + "</p>"
        }
        body += "</header>"
        // What was not checked comes before any count: "0 findings" alone reads as clean.
        if !uncheckedWarnings.isEmpty {
            body += "<section id=\"not-checked\"><h2>Not checked</h2><ul>" + uncheckedWarnings.map { "<li>\(escapeHTML($0))</li>" }.joined() + "</ul></section>"
        }
        body += "<section class=\"cards\">"
        body += HTMLPage.card("packages", packages.count, id: "packages")
        body += HTMLPage.card("findings", summary.total, id: "findings-total")
        body += HTMLPage.card("fixable", summary.fixable, id: "fixable")
        // What the policy left out is counted, as the table says it: a short page is not a clean one.
        if !suppressed.isEmpty { body += HTMLPage.card("suppressed", suppressed.count, id: "suppressed") }
        body += "</section><section><h2>Severity distribution</h2>\(HTMLPage.severityBars(summary.bySeverity))</section>"
        body += "<section><h2>Remediation</h2>"
        let fixes = remediation.filter { $0.upgradeTo != nil }
        body += fixes.isEmpty
            ? "<p>No fix to apply.</p>"
            : HTMLPage.table(
                ["package", "installed", "upgrade to", "fixes", "severity"],
                fixes.map { [escapeHTML($0.package), escapeHTML($0.installedVersion), escapeHTML($0.upgradeTo ?? ""), escapeHTML("\($0.fixes)"), HTMLPage.severity($0.highestSeverity.rawValue)] })
        body += "</section><section><h2>Vulnerabilities</h2>"
        body += vulnerabilities.isEmpty
            ? "<p>None found.</p>"
            : HTMLPage.table(
                ["vulnerability", "severity", "exploited", "rated by", "CVSS", "package", "installed", "fixed in", "path"],
                vulnerabilities.map {
                    [HTMLPage.vulnerabilityLink($0.id, page: $0.links.first) + HTMLPage.otherNames($0.otherNames), HTMLPage.severity($0.severity.rawValue), escapeHTML(Self.exploited($0)),
                     escapeHTML(Self.ratedBy($0)), escapeHTML($0.cvss.map { "\($0.attribution) \($0.score) v\($0.version)" }.joined(separator: ", ")),
                     escapeHTML($0.package), escapeHTML($0.installedVersion), escapeHTML($0.fixedVersion ?? "(\($0.status.rawValue))"), escapeHTML($0.path)]
                })
        body += "</section>"
        let others = warnings.filter { !uncheckedWarnings.contains($0) }
        if !others.isEmpty { body += "<section><h2>Warnings</h2><ul>" + others.map { "<li>\(escapeHTML($0))</li>" }.joined() + "</ul></section>" }
        return HTMLPage.document(title: "fathom · \(artifact.name)", body: body)
    }
}

/// The pieces both pages share.
enum HTMLPage {
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escapeHTML(title))</title><style>\(style)</style></head>
        <body><main>\(body)</main></body></html>

        """
    }

    static let colours: [String: String] = [
        "CRITICAL": "#8e1b1b", "HIGH": "#d2461a", "MEDIUM": "#c98a00", "LOW": "#2f6db3", "UNKNOWN": "#6b7280",
    ]

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}main{max-width:1100px;margin:0 auto;padding:24px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}.meta,.note,.legend{color:#57606a;margin:0 0 8px}
        section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:16px;margin:16px 0}
        .cards{display:flex;gap:12px;flex-wrap:wrap;background:none;border:0;padding:0}.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:12px 16px;min-width:120px}
        .card b{display:block;font-size:24px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}td{overflow-wrap:anywhere}
        th{font-weight:600;color:#57606a}.sev{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}
        .axis{stroke:#8c959f}.label{font-size:11px;fill:#57606a}polyline.series{fill:none;stroke-width:2}circle.series{stroke:none}
        .total{stroke:#1f2328;fill:#1f2328}.critical{stroke:#8e1b1b;fill:#8e1b1b}.high{stroke:#d2461a;fill:#d2461a}.medium{stroke:#c98a00;fill:#c98a00}.low{stroke:#2f6db3;fill:#2f6db3}
        .key{font-weight:600}.key.total{color:#1f2328}.key.critical{color:#8e1b1b}.key.high{color:#d2461a}.key.medium{color:#c98a00}.key.low{color:#2f6db3}
        svg.trend,svg.bars{width:100%;height:auto}a{color:#0b5cad}.aka{font-size:12px;color:#57606a}
        """

    static func card(_ label: String, _ value: Int, id: String) -> String {
        "<div class=\"card\" id=\"\(id)\"><b>\(value)</b>\(escapeHTML(label))</div>"
    }

    static func severity(_ name: String) -> String {
        "<span class=\"sev\" style=\"background:\(colours[name] ?? "#6b7280")\">\(escapeHTML(name))</span>"
    }

    /// The id, linked to `page` when given, else to OSV's page for ids OSV publishes.
    static func vulnerabilityLink(_ id: String, page: String? = nil) -> String {
        guard let target = page ?? OSVPage.url(for: id) else {
            return escapeHTML(id)
        }
        return "<a href=\"\(escapeHTML(target))\">\(escapeHTML(id))</a>"
    }

    /// A finding's other names under its id (a notice's CVEs), each linked to its page.
    static func otherNames(_ names: [String]) -> String {
        names.isEmpty ? "" : "<div class=\"aka\">" + names.map { vulnerabilityLink($0) }.joined(separator: ", ") + "</div>"
    }

    /// One horizontal bar per severity, its count written beside it.
    static func severityBars(_ counts: [String: Int]) -> String {
        let order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
        let peak = max(1, order.map { counts[$0] ?? 0 }.max() ?? 1)
        var svg = "<svg class=\"bars\" viewBox=\"0 0 760 \(order.count * 28 + 4)\" role=\"img\" aria-label=\"findings per severity\">"
        for (index, name) in order.enumerated() {
            let count = counts[name] ?? 0
            let y = index * 28 + 4
            let width = Int(Double(count) / Double(peak) * 560)
            svg += "<text x=\"0\" y=\"\(y + 15)\" class=\"label\">\(name)</text>"
            svg += "<rect x=\"90\" y=\"\(y)\" width=\"\(max(width, count > 0 ? 2 : 0))\" height=\"20\" rx=\"3\" fill=\"\(colours[name]!)\"><title>\(count) \(name.lowercased())</title></rect>"
            svg += "<text x=\"\(96 + width)\" y=\"\(y + 15)\" class=\"label\">\(count)</text>"
        }
        return svg + "</svg>"
    }

    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        "<table><thead><tr>" + headers.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
    }

    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Text made safe for HTML element content and attribute values.
func escapeHTML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.append(character)
        }
    }
    return escaped
}
