import FathomStore
import Foundation
import Hummingbird

/// The dashboard's image list: a search form, one page of images with their counts, the link
/// to the next page, and the dead jobs. Server-rendered HTML with inline style only.
enum ImagesHTML {
    static let severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]

    static func render(answer: ServiceRoutes.ImagesAnswer, request: Request, dead: [Job], deadCount: Int) -> String {
        let query = request.uri.queryParameters
        let escape = HTMLMessage.escape
        let q = query.get("q") ?? ""
        let repository = query.get("repository") ?? ""
        let severity = query.get("severity") ?? ""
        let choices: [(String, String)] = [
            ("", "any findings"), ("CRITICAL", "a critical finding"), ("CRITICAL,HIGH", "a high or critical finding"),
            ("CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN", "any finding at all"),
        ]
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>fathom · images</title>
            <style>body{font:14px system-ui,sans-serif;background:#f6f7f9;margin:0;color:#1f2328}main{max-width:1200px;margin:24px auto;background:#fff;
            border:1px solid #d8dee4;border-radius:8px;padding:16px 24px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;
            border-bottom:1px solid #eaeef2}td{overflow-wrap:anywhere}td.n,th.n{text-align:right}form{margin:12px 0}input,select{padding:4px}.muted{color:#59636e}
            .c{color:#8e1b1b;font-weight:600}.h{color:#b35900}</style></head>
            <body><main><nav><a href="/">← Fleet report</a></nav><h1>fathom · images</h1>
            <form method="get" action="/images"><label>Search <input name="q" value="\(escape(q))" placeholder="image, package, or CVE id"></label>
            <label>Repository <input name="repository" value="\(escape(repository))"></label>
            <label>With <select name="severity">
            """
        for (value, label) in choices {
            html += "<option value=\"\(value)\"\(value == severity ? " selected" : "")>\(label)</option>"
        }
        html += "</select></label> <button type=\"submit\">Show</button></form>\n"
        if answer.images.isEmpty {
            html += "<p class=\"muted\">No image with a report matches.</p>\n"
        } else {
            html += "<table><thead><tr><th>image</th><th>OS</th>"
            for name in severities { html += "<th class=\"n\">\(name.lowercased())</th>" }
            html += "<th class=\"n\">fixable</th><th class=\"n\">exploited</th></tr></thead><tbody>\n"
            for image in answer.images {
                let name = escape(image.image)
                let cell = ServiceRoutes.imageLink(image).map { "<a href=\"\(escape($0))\">\(name)</a>" } ?? name
                // An image whose packages were not all checked says so beside its name: its zeros prove nothing.
                let unchecked = image.notChecked.map { "<br><span class=\"h\">not checked: \(escape($0.joined(separator: "; ")))</span>" } ?? ""
                // Findings matched against older advisories than the store's: a rescan has not reached it.
                let stale = image.upToDate == false ? "<br><span class=\"muted\">matched against older advisory data</span>" : ""
                // Its counts are what a policy let through (a scan request's own, ignore rules, VEX).
                let filtered = image.policyLeftFindingsOut == true ? "<br><span class=\"muted\">findings left out by policy (see its report)</span>" : ""
                html += "<tr><td>\(cell)\(unchecked)\(stale)\(filtered)</td><td>\(escape(image.os ?? ""))</td>"
                for severity in severities {
                    let count = image.bySeverity[severity] ?? 0
                    let style = count == 0 ? "" : severity == "CRITICAL" ? " c" : severity == "HIGH" ? " h" : ""
                    html += "<td class=\"n\(style)\">\(count)</td>"
                }
                html += "<td class=\"n\">\(image.fixable)</td><td class=\"n\">\(image.exploited)</td></tr>\n"
            }
            html += "</tbody></table>\n"
        }
        if let next = answer.next {
            html += "<p><a rel=\"next\" href=\"\(escape(Paging.address(request, path: "/images", cursor: next)))\">Next page →</a></p>\n"
        } else {
            html += "<p class=\"muted\">End of the list.</p>\n"
        }
        html += "<h2>Dead jobs (\(deadCount))</h2>\n"
        if dead.isEmpty {
            html += "<p class=\"muted\">None: every job finished or is still being tried.</p>\n"
        } else {
            html += "<table><thead><tr><th>job</th><th>image</th><th class=\"n\">attempts</th><th>last error</th></tr></thead><tbody>\n"
            for job in dead {
                html += "<tr><td>\(job.id) (\(job.kind.rawValue))</td><td>\(escape(job.image))</td><td class=\"n\">\(job.attempts)</td>"
                html += "<td>\(escape(job.lastError ?? ""))</td></tr>\n"
            }
            html += "</tbody></table>\n"
            if deadCount > dead.count { html += "<p class=\"muted\">The newest \(dead.count); every one is in /v1/jobs?state=dead.</p>\n" }
        }
        return html + "</main></body></html>\n"
    }
}
