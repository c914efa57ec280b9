@testable import FathomAdvisory
import FathomInventory
import FathomStore
import FathomTestSupport
import Foundation
import Testing
import FathomSQLiteStore

/// Where a finding's severity comes from: its own feed first, then the CVSS scores other
/// sources give the same vulnerability (by id, alias or upstream id).
@Suite(.timeLimit(.minutes(2))) struct SeverityTests {
    /// rustc-web in bookworm, as the derived Debian feed's record of CVE-2026-33055 describes it.
    static let rustcWeb = InventoryEntry(
        package: Package(
            ecosystem: "deb", name: "rustc-web", version: "1.85.0+dfsg3-1~deb12u3",
            source: .init(name: "rustc-web", version: "1.85.0+dfsg3-1~deb12u3"), path: "var/lib/dpkg/status"),
        layer: 0)

    /// Real records on both sides: the Debian feed rates nothing and names CVE-2026-33055 as its
    /// upstream; RustSec's record of the same CVE (RUSTSEC-2026-0068, the tar crate) carries a
    /// CVSS v4.0 vector. Through the store, the Debian finding ranks by RustSec's score.
    @Test func aFindingItsFeedDoesNotRateRanksByAnotherFeedsScoreOfTheSameCVE() async throws {
        let store = try await SQLiteStore.open(path: try Fixtures.temporaryDirectory("severity") + "/fathom.db")
        let debian = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/osv-debian12-derived/osv-debian12-derived.tar.gz").path)
        try await store.importAdvisories(debian.records, source: "osv-debian12-derived")
        let before = try await ImageMatcher.findings([Self.rustcWeb], osNamespace: "Debian:12", lookup: try await store.advisories())
        let unrated = try #require(before.first { $0.id == "CVE-2026-33055" })
        #expect(unrated.severity == .unknown && unrated.severitySource == nil && unrated.cvss.isEmpty)
        #expect(unrated.aliases == ["DEBIAN-CVE-2026-33055"], "Debian's record of the CVE, which the finding is named after")

        let crates = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/osv-crates-sample/crates").path)
        try await store.importAdvisories(crates.records, source: "osv-crates")
        let rustsec = try #require(crates.records.first { $0.id == "RUSTSEC-2026-0068" })
        #expect(rustsec.aliases?.contains("CVE-2026-33055") == true)
        let vector = try #require(rustsec.severity?.first { $0.type == "CVSS_V4" }?.score)
        let expected = try #require(CVSSScore(vector: vector, source: "osv-crates"))

        for lookup in [try await store.advisories() as any AdvisoryLookup, Self.index(debian.records, crates.records)] {
            let after = try await ImageMatcher.findings([Self.rustcWeb], osNamespace: "Debian:12", lookup: lookup)
            let rated = try #require(after.first { $0.id == "CVE-2026-33055" })
            #expect(rated.severity == expected.severity && rated.severity != .unknown)
            #expect(rated.severitySource == "osv-crates")
            #expect(rated.cvss == [expected])
        }
        try await store.close()
    }

    static func index(_ debian: [OSVRecord], _ crates: [OSVRecord]) -> AdvisoryIndex {
        var index = AdvisoryIndex()
        index.add(debian, source: "osv-debian12-derived")
        index.add(crates, source: "osv-crates")
        return index
    }

    /// The feed's own word wins over every CVSS score (a distro rates the flaw in its build);
    /// without a word, its own vectors; other sources only when the feed says nothing.
    @Test func theFeedsOwnRatingComesFirst() async throws {
        func record(_ id: String, severity: [OSVRecord.Severity]?, urgency: String?, cve: String = "CVE-2026-33055") -> OSVRecord {
            var affected = OSVRecord.Affected(
                package: .init(ecosystem: "Debian:12", name: "rustc-web"),
                ranges: [.init(type: "ECOSYSTEM", events: [.init(introduced: "0"), .init(fixed: "1.92.0+dfsg1-2")])])
            if let urgency { affected.databaseSpecific = .object(["urgency": .string(urgency)]) }
            return OSVRecord(id: id, aliases: [cve], severity: severity, affected: [affected])
        }
        let critical = OSVRecord.Severity(type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
        var index = AdvisoryIndex()
        // (Each of its own CVE: records aliased to one CVE would be one finding.)
        index.add([record("WORD", severity: [critical], urgency: "low"), record("VECTOR", severity: [critical], urgency: nil, cve: "CVE-2026-33056"),
                   record("NOTHING", severity: nil, urgency: "not yet assigned", cve: "CVE-2026-0001")], source: "debian")
        let v2 = CVSSScore(source: "nvd", version: "2.0", vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", score: 7.5, type: "Primary")
        index.addScores(["CVE-2026-33055": [v2], "CVE-2026-33056": [v2], "CVE-2026-0001": [v2]])
        let findings = try await ImageMatcher.findings([Self.rustcWeb], osNamespace: "Debian:12", lookup: index)
        let byID = Dictionary(uniqueKeysWithValues: findings.map { ($0.id, $0) })
        #expect(byID["WORD"]?.severity == .low && byID["WORD"]?.severitySource == "debian")
        #expect(byID["VECTOR"]?.severity == .critical && byID["VECTOR"]?.severitySource == "debian")
        // Every finding of the CVE lists every score: its own and the other sources'.
        #expect(byID["WORD"]?.cvss.map(\.version).sorted() == ["2.0", "3.1"])
        // Unrated by its feed: NVD's v2 score, rated on v2's scale (7.5 is HIGH, there is no CRITICAL).
        #expect(byID["NOTHING"]?.severity == .high && byID["NOTHING"]?.severitySource == "nvd")
    }

    /// NVD's own analysis before a CNA's, then the newest CVSS version, then the higher score.
    @Test func preferredScoreOrder() {
        let nvd31 = CVSSScore(source: "nvd", version: "3.1", vector: "v", score: 5.0, type: "Primary")
        let cna40 = CVSSScore(source: "nvd", version: "4.0", vector: "v", score: 9.0, type: "Secondary")
        let nvd40 = CVSSScore(source: "nvd", version: "4.0", vector: "v", score: 4.0, type: "Primary")
        let nvd2 = CVSSScore(source: "nvd", version: "2.0", vector: "v", score: 10.0, type: "Primary")
        #expect([cna40, nvd2, nvd31].min(by: CVSSScore.preferred) == nvd31)
        #expect([cna40, nvd31, nvd40].min(by: CVSSScore.preferred) == nvd40)
        #expect(nvd2.severity == .high && CVSSScore(source: "x", version: "3.1", vector: "v", score: 10.0).severity == .critical)
        // Reports name a CNA's score as the CNA's, not as NVD's own analysis.
        #expect(cna40.attribution == "nvd (CNA)" && nvd31.attribution == "nvd")
    }
}
