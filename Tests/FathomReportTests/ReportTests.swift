import FathomAdvisory
import FathomCore
import FathomInventory
@testable import FathomReport
import FathomStore
import Foundation
import Testing

/// The report said anew from a new match: coverage, its warnings and the verdict's view of the
/// fleet follow, and what reading the image said stays.
@Suite struct ReportTests {
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
}
