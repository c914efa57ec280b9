import FathomAdvisory
import FathomCore
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
