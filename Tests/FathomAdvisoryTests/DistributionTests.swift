@testable import FathomAdvisory
import FathomInventory
import FathomTestSupport
import Foundation
import Testing

/// Real distribution records (Ubuntu's OSV, CC BY-SA 4.0; AlmaLinux's OSV, MIT: see
/// advisories/real/*/PROVENANCE.md) matched as the distributions' own tools would.
@Suite struct DistributionTests {
    static func records(_ folder: String) throws -> [OSVRecord] {
        let directory = Fixtures.root.appendingPathComponent("advisories/real/\(folder)")
        let files = FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".json") } ?? []
        return try files.sorted().map { file in
            let path = directory.appendingPathComponent(file).path
            return try AdvisoryImport.osv([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), file: path)
        }
    }

    static func deb(_ name: String, _ version: String, source: String) -> InventoryEntry {
        InventoryEntry(package: Package(ecosystem: "deb", name: name, version: version, source: .init(name: source, version: version), path: "var/lib/dpkg/status"), layer: 0)
    }

    static func rpm(_ name: String, _ version: String) -> InventoryEntry {
        InventoryEntry(package: Package(ecosystem: "rpm", name: name, version: version, path: "var/lib/rpm/rpmdb.sqlite"), layer: 0)
    }

    /// The CVE a distribution's record names, as the feeds name their records (secdb entries as
    /// fathom names them, Debian's tracker and OSV's DEBIAN-, UBUNTU-, ALPINE-CVE records).
    @Test func theCVEARecordIsOf() {
        let cases: [(String, String?)] = [
            ("CVE-2019-14697", "CVE-2019-14697"), ("ALPINE-v3.7-musl-CVE-2019-14697", "CVE-2019-14697"),
            ("DEBIAN-CVE-2024-0001-openssl-bookworm", "CVE-2024-0001"), ("UBUNTU-CVE-2023-4911", "CVE-2023-4911"),
            ("ALPINE-CVE-2024-12345", "CVE-2024-12345"), ("USN-6409-1", nil), ("GHSA-x84v-xcm2-53pg", nil), ("ALPINE-v3.7-xen-XSA-207", nil),
            ("X-CVE-19-1", nil), ("X-CVE-2019-", nil), ("X-CVE-2019-12a", nil), ("XCVE-2019-1", nil), ("X-CVE-2019-1-CVE-2020-2", "CVE-2019-1"),
        ]
        for (name, cve) in cases { #expect(ImageMatcher.cveNamed(name) == cve, "\(name)") }
    }

    /// Debian's tracker (fathom's `DEBIAN-CVE-X-openssl-bookworm`, alias CVE-X) and OSV's Debian
    /// feed (`DEBIAN-CVE-X`, upstream CVE-X) both come with `db update`: one vulnerability, one
    /// finding named by the CVE, with both records merged and the higher fix (had they been two
    /// findings of one id, an upgrade past one fix would read as the CVE resolved while it stays).
    @Test func debiansTwoFeedsOfOneCVEAreOneFinding() throws {
        let tracker = #"{"openssl": {"CVE-2024-9": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "3.0.15-1~deb12u1", "urgency": "medium"}}}}}"#
        let osv = #"{"id":"DEBIAN-CVE-2024-9","modified":"2024-01-01T00:00:00Z","upstream":["CVE-2024-9"],"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.15-1~deb12u2"}]}]}]}"#
        var index = AdvisoryIndex()
        index.add(try FeedReader.parseDocument(Array(tracker.utf8), name: "tracker.json"), source: "debian-tracker")
        index.add([try AdvisoryImport.osv(Array(osv.utf8), file: "DEBIAN-CVE-2024-9.json")], source: "osv-debian")
        let findings = ImageMatcher.findings([Self.deb("libssl3", "3.0.14-1~deb12u1", source: "openssl")], osNamespace: "Debian:12", index: index)
        #expect(findings.map(\.id) == ["CVE-2024-9"], "\(findings.map { "\($0.id) \($0.aliases)" })")
        let finding = try #require(findings.first)
        #expect(finding.fixedVersion == "3.0.15-1~deb12u2")
        #expect(Set(finding.merged ?? []) == ["DEBIAN-CVE-2024-9-openssl-bookworm", "DEBIAN-CVE-2024-9"], "\(finding.merged ?? [])")
        #expect(Set(finding.aliases) == ["DEBIAN-CVE-2024-9-openssl-bookworm", "DEBIAN-CVE-2024-9"], "\(finding.aliases)")
        // Past the tracker's fix but not OSV's: still the one finding, at OSV's fix.
        let between = ImageMatcher.findings([Self.deb("libssl3", "3.0.15-1~deb12u1", source: "openssl")], osNamespace: "Debian:12", index: index)
        #expect(between.map { "\($0.id) \($0.fixedVersion ?? "-")" } == ["CVE-2024-9 3.0.15-1~deb12u2"])
    }

    /// Ubuntu's records name source packages under `Ubuntu:22.04:LTS`; the Pro and FIPS tracks
    /// are other releases. Schema 1.6 records link their CVE through `related`, 1.7 records
    /// through `upstream`; a USN whose UBUNTU-CVE records all match is folded into them.
    @Test func ubuntu() throws {
        var index = AdvisoryIndex()
        let records = try Self.records("ubuntu-osv")
        #expect(records.count == 7)
        index.add(records, source: "osv-ubuntu")
        let packages = [
            Self.deb("libc6", "2.35-0ubuntu3.3", source: "glibc"),  // CVE-2023-4911, fixed in 3.4
            Self.deb("liblzma5", "5.2.5-2ubuntu1", source: "xz-utils"),  // the fixed version: not affected
            Self.deb("libssl3", "3.0.2-0ubuntu1.10", source: "openssl"),  // CVE-2023-5363, 1.7 record
            Self.deb("libnode72", "12.22.9~dfsg-1ubuntu3", source: "nodejs"),  // open: no fix
            Self.deb("zlib1g", "1:1.2.11.dfsg-2ubuntu9", source: "zlib"),  // CVE-2022-37434 on 22.04
        ]
        let findings = ImageMatcher.findings(packages, osNamespace: "Ubuntu:22.04", index: index)
        let lines = findings.map { "\($0.package) \($0.id) \($0.fixedVersion ?? "-") \($0.status.rawValue) \($0.aliases.sorted().joined(separator: ","))" }.sorted()
        #expect(lines == [
            // The USN's other upstream record (UBUNTU-CVE-2023-4527) is not in the sample: it stays.
            "libc6 CVE-2023-4911 2.35-0ubuntu3.4 fixed UBUNTU-CVE-2023-4911",
            "libc6 USN-6409-1 2.35-0ubuntu3.4 fixed CVE-2023-4527,CVE-2023-4911,UBUNTU-CVE-2023-4527,UBUNTU-CVE-2023-4911",
            "libnode72 CVE-2023-5363 - affected UBUNTU-CVE-2023-5363",
            "libssl3 CVE-2023-5363 3.0.2-0ubuntu1.12 fixed UBUNTU-CVE-2023-5363",
            "libssl3 USN-6450-1 3.0.2-0ubuntu1.12 fixed CVE-2023-2975,CVE-2023-3446,CVE-2023-3817,CVE-2023-5363,UBUNTU-CVE-2023-2975,UBUNTU-CVE-2023-3446,UBUNTU-CVE-2023-3817,UBUNTU-CVE-2023-5363",
            "zlib1g CVE-2022-37434 1:1.2.11.dfsg-2ubuntu9.2 fixed UBUNTU-CVE-2022-37434",
        ], "\(lines)")
        // A 1.7 USN rates only its CVEs, by Ubuntu's priority: USN-6450-1 is as severe as the
        // worst of them on 22.04 (CVE-2023-5363, medium; the other three low), as its
        // UBUNTU-CVE record rates that CVE, not HIGH from the record's CVSS score.
        let notice = try #require(findings.first { $0.id == "USN-6450-1" })
        #expect(notice.severity == .medium && notice.severitySource == "osv-ubuntu", "\(notice.severity) \(notice.severitySource ?? "-")")
        #expect(findings.first { $0.id == "CVE-2023-5363" && $0.package == "libssl3" }?.severity == .medium)
        // A rule about one of a notice's CVEs (VEX statements go by the same names), written either way, waives that
        // CVE's finding, not the notice, which fixes CVE-2023-4527 too; the notice's own id does.
        for written in ["CVE-2023-4911", "UBUNTU-CVE-2023-4911"] {
            var policy = ScanPolicy()
            policy.ignoreRules = try ScanPolicy.ignoreRules(written + "\n", file: "ignore")
            let kept = policy.apply(findings, purl: { _ in nil }, image: nil).kept.map { "\($0.package) \($0.id)" }
            #expect(kept.contains("libc6 USN-6409-1") && !kept.contains("libc6 CVE-2023-4911"), "\(written): \(kept)")
        }
        var byNotice = ScanPolicy()
        byNotice.ignoreRules = try ScanPolicy.ignoreRules("USN-6409-1\n", file: "ignore")
        #expect(!byNotice.apply(findings, purl: { _ in nil }, image: nil).kept.contains { $0.id == "USN-6409-1" })
        // Every CVE of the notice waived, each by its own rule (either spelling), waives the
        // notice too: it fixes those and no other. Both rules are used; the suppressed entry
        // names them. One of another package (pkg:) does not count.
        var byEachCVE = ScanPolicy()
        byEachCVE.ignoreRules = try ScanPolicy.ignoreRules("CVE-2023-4911\nUBUNTU-CVE-2023-4527 exp:2099-01-01\n", file: "ignore")
        let eachCVE = byEachCVE.apply(findings, purl: { _ in nil }, image: nil)
        #expect(!eachCVE.kept.contains { $0.id == "USN-6409-1" || $0.id == "CVE-2023-4911" }, "\(eachCVE.kept.map(\.id))")
        let waived = try #require(eachCVE.suppressed.first { $0.id == "USN-6409-1" })
        #expect(waived.rule == "ignore:1, ignore:2" && waived.reason == "ignore file" && waived.justification == "until 2099-01-01", "\(waived)")
        #expect(eachCVE.usedRules == ["ignore:1", "ignore:2"])
        byEachCVE.ignoreRules = try ScanPolicy.ignoreRules("CVE-2023-4911\nCVE-2023-4527 pkg:libssl3\n", file: "ignore")
        #expect(byEachCVE.apply(findings, purl: { _ in nil }, image: nil).kept.contains { $0.id == "USN-6409-1" })
        // Two rules about one CVE (either spelling) are both used; the notice is waived until
        // the first CVE's rules all end; an expired rule waives nothing.
        byEachCVE.ignoreRules = try ScanPolicy.ignoreRules(
            "CVE-2023-4911 exp:2098-01-01\nUBUNTU-CVE-2023-4911\nCVE-2023-4527 exp:2099-01-01\nCVE-2023-4527 exp:2097-01-01\n", file: "ignore")
        let both = byEachCVE.apply(findings, purl: { _ in nil }, image: nil)
        #expect(both.suppressed.first { $0.id == "USN-6409-1" }?.justification == "until 2099-01-01", "\(both.suppressed)")
        #expect(both.usedRules == ["ignore:1", "ignore:2", "ignore:3", "ignore:4"], "\(both.usedRules)")
        byEachCVE.ignoreRules = try ScanPolicy.ignoreRules("CVE-2023-4911\nCVE-2023-4527 exp:2020-01-01\n", file: "ignore")
        #expect(byEachCVE.apply(findings, purl: { _ in nil }, image: nil).kept.contains { $0.id == "USN-6409-1" })
        // A VEX statement that one of the notice's CVEs affects libc6 keeps the notice, whatever
        // another says of the notice itself (affected wins, as for one vulnerability).
        let libc6 = VEXStatement.Product(id: "pkg:deb/ubuntu/libc6", purl: try PackageURL(parsing: "pkg:deb/ubuntu/libc6"))
        let purl: (Finding) -> PackageURL? = { PackageURL(type: "deb", namespace: "ubuntu", name: $0.package, version: $0.installedVersion) }
        var vex = ScanPolicy()
        vex.vex = [VEXStatement(vulnerability: "USN-6409-1", status: .notAffected, justification: "vulnerable_code_not_present", products: [libc6], origin: "notice")]
        #expect(!vex.apply(findings, purl: purl, image: nil).kept.contains { $0.id == "USN-6409-1" }, "the statement covers libc6: the test can fail")
        vex.vex.append(VEXStatement(vulnerability: "CVE-2023-4527", status: .affected, products: [libc6], origin: "cve"))
        #expect(vex.apply(findings, purl: purl, image: nil).kept.contains { $0.id == "USN-6409-1" })
        // Statements that each of its CVEs does not affect libc6 waive the notice; one that
        // says one of them does keeps it.
        var vexByCVE = ScanPolicy()
        vexByCVE.vex = ["CVE-2023-4527", "CVE-2023-4911"].map {
            VEXStatement(vulnerability: $0, status: .notAffected, justification: "vulnerable_code_not_in_execute_path", products: [libc6], origin: $0)
        }
        let byStatements = vexByCVE.apply(findings, purl: purl, image: nil)
        #expect(byStatements.suppressed.first { $0.id == "USN-6409-1" }?.rule == "CVE-2023-4527, CVE-2023-4911", "\(byStatements.suppressed)")
        #expect(byStatements.usedRules == ["CVE-2023-4527", "CVE-2023-4911"])
        // Some fixed, some not affected: the notice is not affected (one status, one justification).
        vexByCVE.vex[0].status = .fixed
        let mixed = vexByCVE.apply(findings, purl: purl, image: nil).suppressed.first { $0.id == "USN-6409-1" }
        #expect(mixed?.reason == "vex: not_affected" && mixed?.justification == "vulnerable_code_not_in_execute_path", "\(String(describing: mixed))")
        vexByCVE.vex[1].status = .affected
        #expect(vexByCVE.apply(findings, purl: purl, image: nil).kept.contains { $0.id == "USN-6409-1" })
        vexByCVE.vex.removeLast()
        #expect(vexByCVE.apply(findings, purl: purl, image: nil).kept.contains { $0.id == "USN-6409-1" })
        // Trusty's ESM fix (Ubuntu:Pro:14.04:LTS) is not 14.04's.
        #expect(ImageMatcher.findings([Self.deb("zlib1g", "1:1.2.8.dfsg-1ubuntu1.1", source: "zlib")], osNamespace: "Ubuntu:14.04", index: index).isEmpty)

        // With the USN's other record present (a hand-made UBUNTU-CVE-2023-4527 in Ubuntu's
        // 1.6 shape), the USN is folded into the CVE records it rolls up.
        let missing = #"{"id":"UBUNTU-CVE-2023-4527","modified":"2024-01-01T00:00:00Z","related":["CVE-2023-4527","USN-6409-1"],"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.4"}]}]}]}"#
        index.add([try AdvisoryImport.osv(Array(missing.utf8), file: "UBUNTU-CVE-2023-4527.json")], source: "test")
        let glibc = ImageMatcher.findings([Self.deb("libc6", "2.35-0ubuntu3.3", source: "glibc")], osNamespace: "Ubuntu:22.04", index: index)
        #expect(glibc.map(\.id).sorted() == ["CVE-2023-4527", "CVE-2023-4911"])
        #expect(glibc.allSatisfy { $0.aliases.contains("USN-6409-1") })
    }

    /// AlmaLinux's ALSA records (ids `ALSA-2023:5453`, stored as files with `-`) list their CVEs
    /// as `related` and name binary rpm packages with epochs; the CVEs become the finding's
    /// aliases (so KEV, EPSS and NVD find them).
    @Test func almaLinux() throws {
        var index = AdvisoryIndex()
        let records = try Self.records("almalinux-osv")
        #expect(records.count == 16)
        index.add(records, source: "osv-almalinux")
        let packages = [
            Self.rpm("glibc", "2.34-60.el9_2.6"), Self.rpm("libnghttp2", "1.43.0-5.el9_2"), Self.rpm("openssl", "1:3.0.7-24.el9"),
            Self.rpm("curl", "7.76.1-23.el9_2.4"),  // the fixed version
            Self.rpm("openssh", "9.9p1-1.el9"),  // above the range
        ]
        let findings = ImageMatcher.findings(packages, osNamespace: "AlmaLinux:9", index: index)
        let lines = findings.map { "\($0.package) \($0.id) \($0.fixedVersion ?? "-") \($0.aliases.sorted().joined(separator: ","))" }.sorted()
        #expect(lines == [
            "glibc ALSA-2023:5453 2.34-60.el9_2.7 CVE-2023-4527,CVE-2023-4806,CVE-2023-4813,CVE-2023-4911",
            "libnghttp2 ALSA-2023:5838 1.43.0-5.el9_2.1 CVE-2023-44487",
            "openssl ALSA-2024:0310 1:3.0.7-25.el9_3 CVE-2023-5363",
        ], "\(lines)")
        // The same release's records only: AlmaLinux 8's glibc advisory is not 9's.
        #expect(!findings.contains { $0.id == "ALSA-2023:5455" })
        // Each rated as its synopsis says ("Important: glibc security update"), as Trivy reads
        // AlmaLinux's errata and as Rocky's CSAF rates the same fixes.
        let ratings = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.summary ?? "") })
        for finding in findings {
            let word = try #require(ratings[finding.id]?.split(separator: ":").first.map(String.init))
            #expect(finding.severity == Severity(feedWord: word) && finding.severitySource == "osv-almalinux", "\(finding.id) \(word) \(finding.severity)")
        }
        #expect(findings.first { $0.id == "ALSA-2023:5453" }?.severity == .high)
        #expect(findings.first { $0.id == "ALSA-2024:0310" }?.severity == .medium)
        // A bug-fix advisory (ALBA) names no CVE and gains none; it is no security advisory,
        // so reading the feed leaves it out and says so (an expat update failed a gate).
        let bugfix = try #require(records.first { $0.id == "ALBA-2022:2113" })
        #expect(bugfix.relatedIDs.isEmpty && bugfix.isNonSecurityErratum)
        #expect(records.filter(\.isNonSecurityErratum).map(\.id) == ["ALBA-2022:2113"])
    }

    /// RustSec's informational notices (a crate unmaintained: RUSTSEC-2024-0375, atty) name no
    /// flaw, and advisories only for Windows (RUSTSEC-2021-0145, atty; -2016-0002, -2018-0011,
    /// -2024-0445) cannot apply to a Linux container: both are skipped and said, as cargo-audit
    /// reports notices apart. Unsound code stays an advisory.
    @Test func rustSecNoticesAndOtherSystemsAreNotImported() async throws {
        let path = Fixtures.root.appendingPathComponent("advisories/osv-crates-sample/crates").path
        let contents = try await FeedReader.read(path)
        let ids = Set(contents.records.map(\.id))
        #expect(ids.isDisjoint(with: ["RUSTSEC-2024-0375", "RUSTSEC-2021-0145", "RUSTSEC-2016-0002", "RUSTSEC-2018-0011", "RUSTSEC-2024-0445"]))
        #expect(ids.isSuperset(of: ["RUSTSEC-2019-0011", "RUSTSEC-2019-0035", "RUSTSEC-2019-0036"]))
        #expect(contents.records.count == 119 - 5, "every other record of the sample")
        #expect(contents.notes.contains("\(path): 1 informational notices (a crate unmaintained, a notice) name no vulnerability, as cargo-audit reports them apart: skipped (RUSTSEC-2024-0375)"), "\(contents.notes)")
        #expect(contents.notes.contains { $0.hasPrefix("\(path): 4 advisories only for other operating systems than Linux (a container's): skipped (") }, "\(contents.notes)")
        let atty = InventoryEntry(package: Package(ecosystem: "crates", name: "atty", version: "0.2.14", path: "app/Cargo.lock"), layer: 0)
        var index = AdvisoryIndex()
        index.add(contents.records, source: "osv-crates")
        #expect(ImageMatcher.findings([atty], osNamespace: nil, index: index).isEmpty)
        // OSV's crates.io export holds GitHub's record of the same flaw beside RustSec's
        // (RUSTSEC-2021-0145 names GHSA-g98v-hv3f-hcfr): the twin is skipped with it. The twin
        // here is written for the test in the export's form; its id is the one RustSec names.
        let export = try Fixtures.temporaryDirectory("crates-export")
        try FileManager.default.copyItem(atPath: path + "/RUSTSEC-2021-0145.json", toPath: export + "/RUSTSEC-2021-0145.json")
        try #"{"id": "GHSA-g98v-hv3f-hcfr", "modified": "2023-06-13T00:00:00Z", "summary": "atty potential unaligned read", "affected": [{"package": {"ecosystem": "crates.io", "name": "atty"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#
            .write(toFile: export + "/GHSA-g98v-hv3f-hcfr.json", atomically: true, encoding: .utf8)
        let twins = try await FeedReader.read(export)
        #expect(twins.records.isEmpty && twins.skippedRecords == 2, "\(twins.records.map(\.id)) \(twins.notes)")
    }

    @Test func almaLinuxBugFixErrataAreNotImported() async throws {
        let contents = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/real/almalinux-osv").path)
        #expect(contents.records.count == 15 && !contents.records.contains { $0.id.hasPrefix("ALBA-") })
        #expect(contents.notes == [
            Fixtures.root.appendingPathComponent("advisories/real/almalinux-osv").path
                + ": 1 bug-fix or enhancement errata naming no CVE are no security advisories: skipped (ALBA-2022:2113)"
        ], "\(contents.notes)")
        let expat = InventoryEntry(package: Package(ecosystem: "rpm", name: "expat", version: "2.2.5-4.el8", path: "var/lib/rpm/rpmdb.sqlite"), layer: 0)
        var index = AdvisoryIndex()
        index.add(contents.records, source: "osv-almalinux")
        #expect(ImageMatcher.findings([expat], osNamespace: "AlmaLinux:8", index: index).isEmpty)
    }
}

/// Wolfi's advisory YAML (wolfi-dev/advisories at its last Apache-2.0 commit): the latest event
/// of each advisory decides, false-positive determinations included.
@Suite struct WolfiTests {
    static func index() async throws -> AdvisoryIndex {
        let contents = try await FeedReader.read(Fixtures.root.appendingPathComponent("advisories/real/wolfi").path)
        #expect(contents.warnings.isEmpty, "\(contents.warnings)")
        var index = AdvisoryIndex()
        index.add(contents.records, source: "wolfi")
        return index
    }

    static func apk(_ name: String, _ version: String, origin: String) -> InventoryEntry {
        InventoryEntry(package: Package(ecosystem: "apk", name: name, version: version, source: .init(name: origin, version: version), path: "lib/apk/db/installed"), layer: 0)
    }

    @Test func latestEventDecides() async throws {
        let index = try await Self.index()
        let busybox = ImageMatcher.findings([Self.apk("busybox", "1.35.0-r2", origin: "busybox")], osNamespace: "Wolfi", index: index)
        let lines = busybox.map { "\($0.id) \($0.aliases.first ?? "") \($0.fixedVersion ?? "-") \($0.status.rawValue) \($0.vendorStatus ?? "-")" }.sorted()
        #expect(lines == [
            "CGA-c95q-245j-h3hq CVE-2022-28391 1.35.0-r3 fixed -",
            "CGA-jrx7-26c9-jxcv CVE-2025-46394 - fix_deferred pending-upstream-fix",
            "CGA-mv94-rqj7-28m3 CVE-2022-30065 1.35.0-r3 fixed -",
            "CGA-w865-m7p5-hhrm CVE-2024-58251 - fix_deferred pending-upstream-fix",
        ], "\(lines)")
        // Four false-positive determinations (CVE-2023-42363…42366) are not findings.
        #expect(!busybox.contains { ($0.aliases.first ?? "").hasPrefix("CVE-2023-4236") })
        // xz 5.6.1 and CVE-2024-3094: Chainguard determined its build never held the backdoor.
        #expect(ImageMatcher.findings([Self.apk("liblzma5", "5.6.1-r0", origin: "xz")], osNamespace: "Wolfi", index: index).isEmpty)
        // Looney Tunables in glibc, fixed in 2.38-r5; a libc split package carries its origin.
        let glibc = ImageMatcher.findings([Self.apk("ld-linux", "2.38-r4", origin: "glibc")], osNamespace: "Wolfi", index: index)
        #expect(glibc.contains { $0.aliases.contains("CVE-2023-4911") && $0.fixedVersion == "2.38-r5" })
        #expect(!glibc.contains { $0.aliases.contains("CVE-2023-4527") }, "fixed in 2.38-r2, below the installed 2.38-r4")
        // Wolfi's os-release names the namespace whatever its version.
        #expect(OSRelease.make(id: "wolfi", versionID: "20230201", prettyName: "Wolfi", idLike: nil, source: "etc/os-release").namespace == "Wolfi")
    }
}

/// CSAF 2.0 advisories and VEX as advisories: Rocky Linux's errata (CIQ's CSAF) and Red Hat's
/// documents (advisories/real/rocky-csaf and redhat, Tests/Fixtures/vex/redhat).
@Suite struct CSAFAdvisoryTests {
    static func read(_ relative: String) async throws -> [OSVRecord] {
        let contents = try await FeedReader.read(Fixtures.root.appendingPathComponent(relative).path)
        #expect(contents.warnings.isEmpty, "\(contents.warnings)")
        return contents.records
    }

    @Test func rockyErrata() async throws {
        let records = try await Self.read("advisories/real/rocky-csaf/advisories")
        #expect(Set(records.map(\.id)) == ["CRLSA-2022:7106", "CRLSA-2023:5763", "CRLSA-2023:5838"])
        let nghttp2 = try #require(records.first { $0.id == "CRLSA-2023:5838" })
        #expect(nghttp2.aliases == ["CVE-2023-44487"])
        // One entry per binary package of the release, the source rpm left out.
        let names = (nghttp2.affected ?? []).map { "\($0.package!.ecosystem) \($0.package!.name)" }
        #expect(names.contains("Rocky Linux:9 libnghttp2") && !names.contains { $0.hasSuffix(" nghttp2") && $0.contains("src") })
        var index = AdvisoryIndex()
        index.add(records, source: "rocky-csaf")
        let packages = [
            DistributionTests.rpm("libnghttp2", "1.43.0-5.el9_2"), DistributionTests.rpm("libcurl", "7.76.1-23.el9_2.4"),
            DistributionTests.rpm("zlib", "1.2.11-19.el8_6"),
        ]
        let findings = ImageMatcher.findings(packages, osNamespace: "Rocky Linux:9", index: index)
        #expect(findings.map { "\($0.package) \($0.id) \($0.fixedVersion ?? "-") \($0.severity.rawValue)" } == [
            "libnghttp2 CRLSA-2023:5838 1.43.0-5.el9_2.1 HIGH"
        ])
        // Rocky 8's zlib errata apply to Rocky 8 only.
        #expect(ImageMatcher.findings([DistributionTests.rpm("zlib", "1.2.11-18.el8_6")], osNamespace: "Rocky Linux:8", index: index).map(\.fixedVersion) == ["1.2.11-19.el8_6"])
    }

    /// Red Hat's VEX says busybox in RHEL 6 is affected and out of support scope: an open
    /// finding whose status says the release's support ended. An AUS-only advisory names no
    /// release an ordinary image runs.
    @Test func redHatStatusesAndTracks() async throws {
        let vex = try await Self.read("vex/redhat/cve-2023-42363.json")
        var index = AdvisoryIndex()
        index.add(vex, source: "redhat-vex")
        let findings = ImageMatcher.findings([DistributionTests.rpm("busybox", "1:1.15.1-21.el6_6")], osNamespace: "Red Hat:6", index: index)
        #expect(findings.map { "\($0.id) \($0.fixedVersion ?? "-") \($0.status.rawValue) \($0.vendorStatus ?? "-")" } == [
            "CVE-2023-42363 - end_of_life Out of support scope"
        ])
        let aus = try await Self.read("advisories/real/redhat/csaf-advisories/rhsa-2022_0011.json")
        #expect(aus.map(\.id) == ["RHSA-2022:0011"])
        #expect(aus.first?.affected?.isEmpty == true, "7.6 AUS/E4S/TUS are not RHEL 7")
    }

    @Test func nevraAndPlatforms() {
        #expect(CSAFProductTree.nevra("libnghttp2-0:1.43.0-5.el9_2.1.aarch64")! == ("libnghttp2", "1.43.0-5.el9_2.1"))
        #expect(CSAFProductTree.nevra("telnet-server-1:0.17-65.el7_6.x86_64")! == ("telnet-server", "1:0.17-65.el7_6"))
        #expect(CSAFProductTree.nevra("nghttp2-0:1.43.0-5.el9_2.1.src") == nil)
        #expect(CSAFProductTree.namespace(cpe: "cpe:/o:redhat:enterprise_linux:9::baseos") == "Red Hat:9")
        #expect(CSAFProductTree.namespace(cpe: "cpe:2.3:o:ciq:rocky_linux_from_ciq:9.2:*:*:*:*:*:*:*") == "Rocky Linux:9")
        #expect(CSAFProductTree.namespace(cpe: "cpe:/o:redhat:rhel_eus:8.6::baseos") == nil)
        #expect(CSAFProductTree.namespace(cpe: "cpe:/a:redhat:openshift:4.6::el8") == nil)
    }
}
