@testable import FathomAdvisory
import FathomCore
import FathomInventory
@testable import FathomReport
import FathomStore
import Foundation
import Testing

/// The report said anew from a new match: coverage, its warnings and the verdict's view of the
/// fleet follow, and what reading the image said stays.
@Suite struct ReportTests {
    /// A fleet's "Not checked" says why for a gap that is not missing data: a namespace with a
    /// reason is said as it is, a bare one is a namespace without advisories.
    @Test func aFleetGapSaysWhyItWasNotChecked() {
        #expect(FleetSummary.describe(gap: "Alpine:v3.10") == "no advisory data for Alpine:v3.10")
        for reason in Coverage.Gap.Reason.allCases where reason != .noAdvisories {
            let gap = Coverage.Gap(namespace: "Debian:12", packages: 1, isOS: true, reason: reason)
            #expect(FleetSummary.describe(gap: gap.name) == "Debian:12: \(reason.phrase)")
        }
        #expect(FleetSummary.describe(gap: Coverage.nothingFound) == Coverage.nothingFound)
    }

    /// A report of an SBOM of two Alpine packages (its one warning is what "reading" said).
    static func report() throws -> ScanReport {
        let sbom = Array("""
            {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
             "metadata": {"component": {"type": "container", "name": "app"}},
             "components": [{"type": "library", "name": "musl", "version": "1.1.24-r2", "purl": "pkg:apk/alpine/musl@1.1.24-r2?distro=alpine-3.10.9"},
                            {"type": "library", "name": "unknown-thing", "version": "1", "purl": "pkg:generic/unknown-thing@1"}]}
            """.utf8)
        let inventory = try SBOMInventory.read(sbom, path: "app.cdx.json", os: nil)
        return ScanReport(sbom: inventory, name: "sbom:app.cdx.json", digest: Digest.sha256(of: sbom), size: Int64(sbom.count), advisoriesLoaded: true)
    }

    static func coverage(gaps: [(String, Int)]) throws -> Coverage {
        let document: [String: Any] = [
            "checkedAgainst": gaps.isEmpty ? ["Alpine:v3.10"] : [], "osPackagesWithoutRelease": 0,
            "gaps": gaps.map { ["namespace": $0.0, "packages": $0.1, "isOS": true] },
        ]
        return try JSONDecoder().decode(Coverage.self, from: JSONSerialization.data(withJSONObject: document))
    }

    /// "Since the previous scan" names a language package's path, so that two copies at one
    /// version do not print as the same line; OS findings keep the table as it was.
    @Test func changesNameTheLanguagePackagesPath() {
        let path = "tool/node_modules/minimist/package.json"
        let copy = StoredFinding(id: "GHSA-m", ecosystem: "npm", package: "minimist", installedVersion: "1.2.5", fixedVersion: "1.2.6", severity: "CRITICAL", path: path)
        let os = StoredFinding(id: "CVE-1", ecosystem: "apk", package: "musl", installedVersion: "1", fixedVersion: "2", severity: "HIGH")
        let both = ScanChanges.table(new: [copy], resolved: [os])
        #expect(both.contains("PATH") && both.contains(path), "\(both)")
        #expect(both.split(separator: "\n").first { $0.contains("musl") }?.hasSuffix(" -") == true, "\(both)")
        #expect(!ScanChanges.table(new: [os], resolved: []).contains("PATH"))
        // A fix that moved shows from what to what.
        var moved = os
        moved.previousFixedVersion = "1.9"
        #expect(ScanChanges.table(new: [], resolved: [], fixChanged: [moved]).contains("fix changed  CVE-1  musl     1        1.9 → 2"), "\(ScanChanges.table(new: [], resolved: [], fixChanged: [moved]))")
    }

    /// A resolved finding says why: an upgrade from what to what (the fix confirmed), a package
    /// removed, or the advisory data that no longer names the version still installed.
    @Test func resolvedFindingsSayWhy() {
        var upgraded = StoredFinding(id: "CVE-1", ecosystem: "apk", package: "musl", installedVersion: "1.1.18-r3", fixedVersion: "1.1.18-r4", severity: "HIGH")
        upgraded.resolution = .upgraded
        upgraded.currentVersion = "1.1.18-r4"
        var removed = StoredFinding(id: "CVE-2", ecosystem: "apk", package: "zlib", installedVersion: "1", fixedVersion: "2", severity: "LOW")
        removed.resolution = .removed
        let rows = ScanChanges.table(new: [], resolved: [upgraded, removed]).split(separator: "\n").map(String.init)
        #expect(rows.contains { $0.hasPrefix("resolved: upgraded") && $0.contains("1.1.18-r3 → 1.1.18-r4") }, "\(rows)")
        #expect(rows.contains { $0.hasPrefix("resolved: removed") && $0.contains("zlib") }, "\(rows)")
    }

    /// A rescan's moved tag names the image it now points at.
    @Test func aMovedTagNamesItsNewImage() {
        var report = RescanReport(advisoryVersion: "1")
        let digest = Digest.sha256(of: [7])
        report.add(name: "r.example/app:1", manifestDigest: digest, moved: true, findings: 0, changes: nil, verdict: nil)
        #expect(report.table().contains("r.example/app:1 (tag moved to \(digest.description.prefix(19))…: new image scanned)"), "\(report.table())")
    }

    @Test func aNewMatchSaysTheCoverageAnewAndKeepsWhatReadingSaid() throws {
        var report = try Self.report()
        let read = report.readWarnings ?? []
        report.set(findings: [], suppressed: [], changes: nil, coverage: try Self.coverage(gaps: [("Alpine:v3.10", 1)]), advisoriesLoaded: true, notes: [])
        let gap = "no advisories for Alpine:v3.10: its 1 OS package was not checked"
        #expect(report.warnings.contains(gap))
        #expect(report.coverage?.gaps.count == 1)
        // The advisory data arrives: the same (empty) findings, the gap gone from coverage and warnings.
        report.set(findings: [], suppressed: [], changes: nil, coverage: try Self.coverage(gaps: []), advisoriesLoaded: true, notes: ["stale"])
        #expect(!report.warnings.contains(gap))
        #expect(report.coverage?.checkedAgainst == ["Alpine:v3.10"])
        #expect(report.warnings.contains("stale"))
        #expect(report.readWarnings == read)
        #expect(read.allSatisfy(report.warnings.contains))
        // It survives the JSON document (a stored report is re-said from it).
        let decoded = try ScanReport.decode(Array(try report.json().utf8))
        #expect(decoded.readWarnings == read && decoded.coverage?.gaps.isEmpty == true)
    }

    /// An image's HTML page (the dashboard's) says what was not checked before its counts:
    /// "0 findings" over packages nothing was checked against reads as clean.
    @Test func anImagePageSaysWhatWasNotCheckedBeforeItsCounts() throws {
        var report = try Self.report()
        report.set(findings: [], suppressed: [], changes: nil, coverage: try Self.coverage(gaps: [("Alpine:v3.10", 1)]), advisoriesLoaded: true, notes: [])
        let html = report.html(backLink: "/")
        let gap = "no advisories for Alpine:v3.10: its 1 OS package was not checked"
        let notChecked = try #require(html.range(of: "<h2>Not checked</h2>"), "\(html)")
        let counts = try #require(html.range(of: "id=\"findings-total\""))
        #expect(notChecked.lowerBound < counts.lowerBound)
        #expect(html.contains("Checked against: nothing") && html.components(separatedBy: gap).count == 2, "\(html)")
        // Checked: no such section, and what it was checked against.
        report.set(findings: [], suppressed: [], changes: nil, coverage: try Self.coverage(gaps: []), advisoriesLoaded: true, notes: [])
        #expect(!report.html().contains("Not checked") && report.html().contains("Checked against: Alpine:v3.10"))
        // No advisory data at all says so first too.
        report.set(findings: [], suppressed: [], changes: nil, coverage: nil, advisoriesLoaded: false, notes: [])
        #expect(report.html().contains("<h2>Not checked</h2><ul><li>\(ScanReport.noAdvisoryData)"))
    }

    @Test func theFleetSummaryNamesTheImagesThatFailThePolicy() throws {
        var summary = FleetSummary(source: "r.example", advisoryVersion: "v1")
        summary.judge("r.example/a:1", ScanVerdict(kind: .fail, findings: 3, gaps: [], exitCode: 4))
        summary.judge("r.example/b:1", ScanVerdict(kind: .noVerdict, findings: 0, gaps: ["no advisories for PyPI"], exitCode: 1))
        summary.judge("r.example/c:1", ScanVerdict(kind: .pass, findings: 0, gaps: [], exitCode: 0))
        summary.add(deadJob: "r.example/d:1", error: "image r.example/d:1: transport: connection refused")
        summary.finish(elapsed: .seconds(1))
        let table = summary.table()
        #expect(table.contains("Failing the policy (2)"))
        #expect(table.contains("r.example/a:1: 3 findings survive the policy"))
        #expect(table.contains("r.example/b:1: no verdict: no advisories for PyPI"))
        #expect(!table.contains("r.example/c:1"))
        #expect(summary.images.failed == 1 && table.contains("r.example/d:1: image r.example/d:1: transport: connection refused"))
    }

    /// Rebuild advice prefers a newer tag still supported over one past its end of support that
    /// removes more, and says so when only ended tags would help; its images are those that
    /// carry one or more of the base's findings.
    @Test func rebuildAdvicePrefersATagStillSupported() throws {
        let (base, app, fix) = (Digest.sha256(of: Array("base".utf8)), Digest.sha256(of: Array("app".utf8)), Digest.sha256(of: Array("fix".utf8)))
        let (ended, supported) = (Digest.sha256(of: Array("ended".utf8)), Digest.sha256(of: Array("supported".utf8)))
        let findings = ["CVE-1 musl 1 HIGH", "CVE-2 musl 1 HIGH", "CVE-3 zlib 1 LOW"]
        func lineage(withSupported: Bool) -> FleetLineage {
            var lineage = FleetLineage()
            lineage.add(name: "r/base:3.7", layers: [base], findings: findings.map { ($0, 0) }, fullyChecked: true, lifecycle: "end of support 2019-11-01 Alpine:v3.7")
            lineage.add(name: "r/app:1", layers: [base, app], findings: findings.map { ($0, 0) }, fullyChecked: true)
            // Upgraded musl above the base: carries one of its findings only.
            lineage.add(name: "r/app:2", layers: [base, fix], findings: [("CVE-3 zlib 1 LOW", 0)], fullyChecked: true)
            // 3.11 removes all three but has ended; 3.99 removes two and is supported.
            lineage.add(name: "r/base:3.11", layers: [ended], findings: [], fullyChecked: true, lifecycle: "end of support 2020-11-01 Alpine:v3.11")
            if withSupported {
                lineage.add(name: "r/base:3.99", layers: [supported], findings: [("CVE-3 zlib 2 LOW", 0)], fullyChecked: true, lifecycle: "end of support 2099-01-01 Alpine:v3.99")
            }
            return lineage
        }
        let preferred = try #require(lineage(withSupported: true).bases(top: 5, today: "2026-12-07").first { $0.name == "r/base:3.7" }?.rebuild)
        #expect(preferred.on == "r/base:3.99" && preferred.removes == 2 && preferred.images == 2 && preferred.endOfSupport == nil, "\(preferred)")
        #expect(preferred.advice == "rebuild on r/base:3.99 removes 2 of this base's findings")
        let onlyEnded = try #require(lineage(withSupported: false).bases(top: 5, today: "2026-12-07").first { $0.name == "r/base:3.7" }?.rebuild)
        #expect(onlyEnded.on == "r/base:3.11" && onlyEnded.removes == 3 && onlyEnded.endOfSupport == "2020-11-01", "\(onlyEnded)")
        #expect(
            onlyEnded.advice == "rebuild on r/base:3.11 removes 3 of this base's findings, but its release Alpine:v3.11 ended 2020-11-01 too, "
                + "and no newer tag still supported removes any", "\(onlyEnded.advice)")
        // Before 3.11's end, it was the better advice.
        let before = try #require(lineage(withSupported: true).bases(top: 5, today: "2019-12-01").first { $0.name == "r/base:3.7" }?.rebuild)
        #expect(before.on == "r/base:3.11" && before.removes == 3 && before.endOfSupport == nil, "\(before)")
    }

    /// The fleet opens with what attackers exploit: each KEV finding, newest KEV entry first,
    /// with the images carrying it; the HTML dashboard leads with the same section.
    @Test func theFleetSummaryOpensWithWhatIsExploitedInTheWild() throws {
        func finding(_ id: String, _ package: String, kev: KEVEntry?, epss: Double?) -> Finding {
            var finding = Finding(
                id: id, aliases: [], ecosystem: "apk", package: package, sourcePackage: package, installedVersion: "1.0-r0",
                fixedVersion: "1.0-r1", status: .fixed, severity: .high, severitySource: nil, cvss: [], layerIndex: 0, path: "lib/apk/db/installed",
                source: "test", title: nil, references: [])
            finding.kev = kev
            finding.epss = epss.map { EPSSScore(score: $0, percentile: 0.9, date: "2026-09-29") }
            return finding
        }
        var summary = FleetSummary(source: "r.example", advisoryVersion: "v1")
        let old = KEVEntry(dateAdded: "2021-12-10", dueDate: "2021-12-24", knownRansomware: true)
        let new = KEVEntry(dateAdded: "2023-10-10", dueDate: "2023-10-31", knownRansomware: false)
        for (name, findings) in [
            ("r.example/a:1", [finding("CVE-2021-44228", "log4j", kev: old, epss: 0.99), finding("CVE-2020-1", "zlib", kev: nil, epss: 0.5)]),
            ("r.example/b:1", [finding("CVE-2023-44487", "nghttp2", kev: new, epss: 0.9), finding("CVE-2021-44228", "log4j", kev: old, epss: 0.99)]),
            ("r.example/c:1", [finding("CVE-2020-1", "zlib", kev: nil, epss: 0.5)]),
        ] {
            var report = try Self.report()
            report.set(findings: findings, suppressed: [], changes: nil, coverage: try Self.coverage(gaps: []), advisoriesLoaded: true, notes: [])
            summary.add(report: report, name: name)
        }
        summary.finish(elapsed: .seconds(1))
        #expect(summary.imagesWithExploited == 2)
        #expect(summary.exploitedInTheWild.map(\.id) == ["CVE-2023-44487", "CVE-2021-44228"])
        #expect(summary.exploitedInTheWild.last?.images == ["r.example/a:1", "r.example/b:1"])
        let table = summary.table()
        #expect(table.contains("Exploited in the wild (CISA KEV): 2 images"))
        // A clean image is at no risk to list.
        var clean = try Self.report()
        clean.set(findings: [], suppressed: [], changes: nil, coverage: try Self.coverage(gaps: []), advisoriesLoaded: true, notes: [])
        summary.add(report: clean, name: "r.example/clean:1")
        summary.finish(elapsed: .seconds(1))
        let atRisk = summary.table().components(separatedBy: "Images most at risk").last ?? ""
        #expect(atRisk.contains("r.example/c:1") && !atRisk.contains("r.example/clean:1"), "\(atRisk)")
        let html = FleetHTMLReport(summary: summary, trend: []).render()
        #expect(!html.contains("r.example/clean:1"))
        let exploited = try #require(html.range(of: "Exploited in the wild"))
        #expect(exploited.lowerBound < html.range(of: "Severity distribution")!.lowerBound)
        #expect(html.contains("CVE-2021-44228") && html.contains("known"))
    }
}
