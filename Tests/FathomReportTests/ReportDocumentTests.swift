import FathomAdvisory
import FathomCore
import FathomInventory
@testable import FathomReport
import FathomStore
import Foundation
import Testing

/// The document the service stores per image (`ScanReport.document()`): Foundation's encoder is
/// the oracle for its bytes, and it reads back as the same report.
@Suite struct ReportDocumentTests {
    /// A real report: `fathom scan -f json` of one of the service benchmark's images (a Debian
    /// bookworm minbase with the fixture feeds), see `Tests/Fixtures/README.md`.
    static func fixture() throws -> ScanReport {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reports/bookworm-service-image.json")
        return try ScanReport.decode(Array(try Data(contentsOf: path)))
    }

    static func foundation(_ report: ScanReport) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(report))
    }

    /// A template's values are text, as Trivy's text/template writes them (CSV and JSON came out
    /// with `&amp;` and `&quot;`); a template of HTML is escaped for it, and `{{% CONTENT_TYPE:
    /// JSON}}` escapes for JSON strings.
    @Test func templateValuesAreEscapedForWhatTheTemplateWrites() throws {
        var report = try Self.fixture()
        report.vulnerabilities[0].title = #"a "quoted" <b>&</b> \ title"#
        let titles = report.vulnerabilities.map { $0.title ?? "" }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func render(_ text: String) throws -> String {
            try text.write(toFile: directory + "/t.mustache", atomically: true, encoding: .utf8)
            return try report.rendered(with: ReportTemplate.load(directory + "/t.mustache"))
        }
        #expect(try render("{{#vulnerabilities}}{{title}}|{{/vulnerabilities}}") == titles.map { $0 + "|" }.joined())
        #expect(try render("<ul>{{#vulnerabilities}}<li>{{title}}</li>{{/vulnerabilities}}</ul>").contains("<li>a &quot;quoted&quot; &lt;b&gt;&amp;&lt;/b&gt; \\ title</li>"))
        let json = try render(#"{{% CONTENT_TYPE: JSON}}[{{#vulnerabilities}}"{{title}}",{{/vulnerabilities}}"end"]"#)
        #expect((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]) == titles + ["end"], "\(json)")
        // Mustache's transforms work on objects as on lists.
        let counts = report.summary.bySeverity
        #expect(try render("{{count(summary.bySeverity)}}|{{#sorted(summary.bySeverity)}}{{key}}={{value}};{{/sorted(summary.bySeverity)}}")
            == "\(counts.count)|" + counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value);" }.joined())
        // A template's own pragma switches from where it stands.
        let switched = try render("{{#vulnerabilities}}{{title}}|{{/vulnerabilities}}{{% CONTENT_TYPE: HTML}}{{#vulnerabilities}}{{title}}|{{/vulnerabilities}}")
        #expect(switched.hasPrefix(titles[0] + "|") && switched.contains("|a &quot;quoted&quot;"), "\(switched)")
        // A parse error's column is the user's, not shifted by the pragma put before line 1.
        let error = #expect(throws: FathomError.self) { try render("{{#a}}{{/b}}") }
        #expect(error?.message.contains("at line 1, column 10:") == true, "\(String(describing: error))")
        // A name no object of the report has and no type of it has is named; one the types have is not.
        _ = try render("{{#vulnerabilities}}{{id}} {{fixedVersion}}{{/vulnerabilities}}{{artifact.name}}")
        #expect(try report.rendering(with: ReportTemplate.load(directory + "/t.mustache")).unknownNames.isEmpty)
        try "{{#vulnerabilities}}{{idd}}{{matchedAs}}{{kev.dateAdded}}{{/vulnerabilities}}{{summary.bySeverity.CRITICAL}}{{nope.deeper}}".write(
            toFile: directory + "/u.mustache", atomically: true, encoding: .utf8)
        #expect(try report.rendering(with: ReportTemplate.load(directory + "/u.mustache")).unknownNames == ["idd", "nope"])
    }

    /// The image's HTML page says what the table says: what attackers exploit (KEV, EPSS), the
    /// vendor's status where there is no fix, and how many findings the policy suppressed.
    @Test func theImagePageSaysExploitationStatusAndSuppressed() throws {
        var report = try Self.fixture()
        report.vulnerabilities[0].kev = KEVEntry(dateAdded: "2024-01-02", dueDate: nil, knownRansomware: false)
        report.suppressed = [ScanPolicy.Suppressed(id: "CVE-1", package: "musl", reason: "ignore file", rule: "ignore:1")]
        report.vulnerabilities[1].fixedVersion = nil
        report.vulnerabilities[1].status = .willNotFix
        let unfixed = report.vulnerabilities[1]
        let html = report.html()
        #expect(html.contains("<th>exploited</th>") && html.contains("<td>KEV</td>"), "\(html.prefix(2000))")
        #expect(html.contains("(\(unfixed.status.rawValue))"))
        #expect(html.contains("suppressed"))
        // The table counts findings and vulnerabilities apart when one CVE is in several packages.
        let shared = try #require(Dictionary(grouping: report.vulnerabilities, by: \.id).first { $0.value.count > 1 })
        for index in report.vulnerabilities.indices {
            report.vulnerabilities[index].kev = report.vulnerabilities[index].id == shared.key ? KEVEntry(dateAdded: "2024-01-02", dueDate: nil, knownRansomware: false) : nil
        }
        #expect(report.table().contains("Exploited in the wild (CISA KEV): \(shared.value.count) findings of 1 vulnerability (\(shared.key))"), "\(report.table())")
    }

    /// The image's page names a notice's CVEs under it, each once (a USN names each CVE as
    /// Ubuntu's record and as the CVE); a record of the finding's own CVE or advisory is no
    /// other name, and a finding with none has no line for them.
    @Test func theImagePageNamesANoticesCVEs() throws {
        var report = try Self.fixture()
        report.vulnerabilities[0].id = "USN-6409-1"
        report.vulnerabilities[0].aliases = ["UBUNTU-CVE-2023-4527", "CVE-2023-4527", "UBUNTU-CVE-2023-4911", "CVE-2023-4911"]
        #expect(report.vulnerabilities[0].otherNames == ["CVE-2023-4527", "CVE-2023-4911"])
        report.vulnerabilities[1].id = "CVE-2019-14697"
        report.vulnerabilities[1].aliases = ["ALPINE-v3.7-musl-CVE-2019-14697", "UBUNTU-CVE-2019-14697"]
        #expect(report.vulnerabilities[1].otherNames.isEmpty)
        var xsa = report.vulnerabilities[1]
        (xsa.id, xsa.aliases) = ("XSA-295", ["ALPINE-v3.9-xen-XSA-295"])
        #expect(xsa.otherNames.isEmpty)
        (xsa.id, xsa.aliases) = ("GHSA-x84v-xcm2-53pg", ["CVE-2018-18074", "PYSEC-2018-28"])
        #expect(xsa.otherNames == ["CVE-2018-18074", "PYSEC-2018-28"])
        let html = report.html()
        let cell = #"<a href="https://osv.dev/vulnerability/CVE-2023-4527">CVE-2023-4527</a>, <a href="https://osv.dev/vulnerability/CVE-2023-4911">CVE-2023-4911</a></div>"#
        #expect(html.components(separatedBy: cell).count == 2, "\(html)")
        let named = report.vulnerabilities.filter { !$0.otherNames.isEmpty }.count
        #expect(named < report.vulnerabilities.count && html.components(separatedBy: "class=\"aka\"").count == named + 1)
    }

    /// A local image's purl names its folder, not the transport and path, and no repository.
    @Test func aLocalImagesPurlNamesNoRepository() throws {
        var report = try Self.fixture()
        report.artifact.name = "oci:/tmp/layouts/oci373:3.7"
        let purl = try #require(report.imageURL)
        #expect(purl.name == "oci373" && purl.qualifiers["repository_url"] == nil && purl.qualifiers["tag"] == "3.7", "\(purl)")
        report.artifact.name = "127.0.0.1:5000/team/app:1"
        #expect(report.imageURL?.qualifiers["repository_url"] == "127.0.0.1:5000/team/app" && report.imageURL?.name == "app")
    }

    /// What a policy someone asked for left out makes a report speak only by adding to its
    /// layers' findings in the fleet's rows; what every report leaves out by default does not.
    @Test func onlyAPolicyAskedForMakesAReportLeaveFindingsOut() throws {
        var report = try Self.fixture()
        report.kernel = Array(report.vulnerabilities.prefix(1))
        var defaults = ScanPolicy.Filtered()
        defaults.unimportant = 3
        report.summary.filtered = defaults
        #expect(!report.policyLeftFindingsOut)
        #expect(ReportListing(report: report, name: "r.example/a:1").speaksForLayers)
        var asked = defaults
        asked.bySeverity["LOW"] = 2
        report.summary.filtered = asked
        #expect(report.policyLeftFindingsOut)
        let listing = ReportListing(report: report, name: "r.example/a:1")
        #expect(!listing.speaksForLayers && listing.layerPackages.isEmpty && listing.image.missing.contains(FleetLifecycle.policyLeftFindingsOut))
        // The filtered counts travel in the document, as Foundation writes them.
        #expect(try report.document() == Self.foundation(report))
        #expect(try ScanReport.decode(try report.document()).summary.filtered == asked)
    }

    @Test func theStoredDocumentIsFoundationsCompactJSON() throws {
        var report = try Self.fixture()
        #expect(report.packages.count == 88 && report.vulnerabilities.count == 24)
        #expect(try report.document() == Self.foundation(report))
        // What the fixture lacks: changes (with dates), exploitation, kernel findings, a request policy.
        let changes = """
            {"previousScannedAt": "2026-12-01T10:00:00Z", "previousManifestDigest": "\(report.artifact.configDigest)",
             "imageChanged": true, "new": [], "resolved": [], "unchanged": 3}
            """
        report.changes = try JSONDecoder.iso8601.decode(ScanChanges.self, from: Data(changes.utf8))
        report.vulnerabilities[0].kev = KEVEntry(dateAdded: "2024-01-02", dueDate: nil, knownRansomware: true)
        report.vulnerabilities[0].epss = EPSSScore(score: 0.00043, percentile: 0.1, date: "2026-12-01")
        report.kernel = Array(report.vulnerabilities.prefix(2))
        report.warnings.append("quote \" and \\ and / and \n and é")
        let document = try report.document()
        #expect(document == (try Self.foundation(report)))
        // It reads back as the report it was: encoded again, the same bytes.
        let read = try ScanReport.decode(document)
        #expect(try read.document() == document)
        #expect(read.changes?.previousScannedAt == Date(timeIntervalSince1970: 1_796_119_200))
    }
}

extension JSONDecoder {
    fileprivate static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
