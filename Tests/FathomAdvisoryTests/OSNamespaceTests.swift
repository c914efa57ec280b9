@testable import FathomAdvisory
import FathomInventory
import FathomTestSupport
import Foundation
import Testing

/// OSV names Ubuntu, Red Hat and SUSE ecosystems finer than a release; an image's os-release
/// names the release. Advisories are indexed under the release so the two meet.
@Suite struct OSNamespaceTests {
    @Test(arguments: [
        ("Ubuntu:22.04:LTS", "Ubuntu:22.04"), ("Ubuntu:23.10", "Ubuntu:23.10"), ("Ubuntu:Pro:22.04:LTS", "Ubuntu:Pro:22.04:LTS"),
        ("Red Hat:enterprise_linux:9::appstream", "Red Hat:9"), ("Red Hat:enterprise_linux:9::baseos", "Red Hat:9"),
        ("Red Hat:enterprise_linux:8::crb", "Red Hat:8"), ("Red Hat:rhel_eus:9.4::baseos", "Red Hat:rhel_eus:9.4::baseos"),
        ("SUSE:Linux Enterprise Server 15 SP5", "SUSE:15.5"), ("SUSE:Linux Enterprise Server 15 SP5-LTSS", "SUSE:15.5"),
        ("SUSE:Linux Enterprise Module for Basesystem 15 SP3", "SUSE:15.3"), ("SUSE:Linux Enterprise Server 12", "SUSE:12"),
        ("SUSE:Linux Enterprise Desktop 15 SP5", "SUSE:Linux Enterprise Desktop 15 SP5"),
        ("openSUSE:Leap 15.5", "openSUSE:Leap 15.5"), ("Debian:12", "Debian:12"), ("Alpine:v3.20", "Alpine:v3.20"),
        ("AlmaLinux:9", "AlmaLinux:9"), ("Rocky Linux:9", "Rocky Linux:9"), ("PyPI", "PyPI"),
    ])
    func advisoryEcosystemsMapToTheReleaseTheyApplyTo(_ ecosystem: String, _ release: String) {
        #expect(OSNamespaces.release(of: ecosystem) == release)
    }

    @Test func osReleaseNamesTheSameReleases() {
        func namespace(_ text: String) -> String? { OSRelease.parse(text, source: "etc/os-release")?.namespace }
        #expect(namespace("ID=ubuntu\nVERSION_ID=\"22.04\"\n") == "Ubuntu:22.04")
        #expect(namespace("ID=\"rhel\"\nVERSION_ID=\"9.4\"\n") == "Red Hat:9")
        #expect(namespace("ID=\"sles\"\nVERSION_ID=\"15.3\"\n") == "SUSE:15.3")
        #expect(namespace("ID=\"sle_bci\"\nVERSION_ID=\"15.5\"\n") == "SUSE:15.5")
        #expect(namespace("ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n") == "openSUSE:Leap 15.5")
        #expect(namespace("ID=\"opensuse-tumbleweed\"\nVERSION_ID=\"20240801\"\n") == "openSUSE:Tumbleweed")
    }

    /// The real SLE 15 SP3 BCI rpmdb (ndb) against records in the shape OSV gives SUSE's
    /// advisories (built here: the repository's data holds no SUSE records): matched by binary
    /// package name in the release's products and modules, not in another service pack, and
    /// with rpm's ordering (a fix equal to the installed version is no finding).
    @Test func slesPackagesMatchAdvisoriesOfTheirServicePacksModules() async throws {
        let rpmdb = try [UInt8](Data(contentsOf: Fixtures.root.appendingPathComponent("pkgdb/rpm/sle15-bci-ndb/Packages.db")))
        let packages = RpmAnalyzer().analyze(path: "usr/lib/sysimage/rpm/Packages.db", contents: rpmdb).packages
        #expect(packages.count == 35)
        func record(_ id: String, _ ecosystem: String, _ name: String, fixed: String) -> OSVRecord {
            OSVRecord(
                id: id, affected: [
                    .init(package: .init(ecosystem: ecosystem, name: name), ranges: [.init(type: "ECOSYSTEM", events: [.init(introduced: "0"), .init(fixed: fixed)])])
                ])
        }
        var index = AdvisoryIndex()
        index.add([
            record("SUSE-SU-A", "SUSE:Linux Enterprise Module for Basesystem 15 SP3", "libz1", fixed: "1.2.11-3.24.1"),
            record("SUSE-SU-B", "SUSE:Linux Enterprise Server 15 SP3-LTSS", "glibc", fixed: "2.31-9.3.2"),
            record("SUSE-SU-C", "SUSE:Linux Enterprise Server 15 SP4", "bash", fixed: "4.4-150400.27.3.2"),
            record("SUSE-SU-D", "SUSE:Linux Enterprise Server 15 SP3", "zlib", fixed: "1.2.11-3.24.1"),
        ], source: "osv-suse")
        let namespace = try #require(OSRelease.parse("ID=\"sles\"\nVERSION_ID=\"15.3\"\n", source: "etc/os-release")?.namespace)
        // os-release's shell escapes are undone (and a value without one is taken as it is).
        let escaped = OSRelease.parse(#"ID=sles"# + "\n" + #"PRETTY_NAME="SUSE \"Linux\" C:\\ 15""#, source: "etc/os-release")
        #expect(escaped?.prettyName == #"SUSE "Linux" C:\ 15"#)
        let findings = try await ImageMatcher.findings(packages.map { InventoryEntry(package: $0, layer: 0) }, osNamespace: namespace, lookup: index)
        // libz1 from zlib: the record names the binary package; one naming only the source
        // package (D) is not a finding for libz1.
        #expect(findings.map { "\($0.id) \($0.package) \($0.installedVersion) \($0.fixedVersion ?? "-")" } == ["SUSE-SU-A libz1 1.2.11-3.21.1 1.2.11-3.24.1"])
        let coverage = Coverage(packages.map { InventoryEntry(package: $0, layer: 0) }, osNamespace: namespace, lookup: index)
        #expect(coverage.checkedAgainst == ["SUSE:15.3"] && coverage.gaps.isEmpty)
    }

    /// Which previous findings a scan could not have found again: a whole ecosystem unchecked
    /// (the OS not identified, a namespace without advisories), not a gap of some packages of
    /// it or of another ecosystem.
    @Test func coverageSaysWhichEcosystemsWentUncheckedAsAWhole() throws {
        func entry(_ ecosystem: String, _ name: String, _ version: String) -> InventoryEntry {
            InventoryEntry(package: Package(ecosystem: ecosystem, name: name, version: version, source: .init(name: name, version: version), path: "x"), layer: 0)
        }
        var index = AdvisoryIndex()
        let pypi = #"{"id": "PYSEC-1", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "app"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2"}]}]}]}"#
        index.add([try AdvisoryImport.osv(Array(pypi.utf8), file: "p.json")], source: "test")
        let musl = entry("apk", "musl", "1.1.18-r3")
        let unidentified = Coverage([musl, entry("pypi", "app", "1")], osNamespace: nil, lookup: index)
        #expect(unidentified.leavesUnchecked(ecosystem: "apk") && !unidentified.leavesUnchecked(ecosystem: "pypi"))
        let noAlpineData = Coverage([musl], osNamespace: "Alpine:v3.7", lookup: index)
        #expect(noAlpineData.leavesUnchecked(ecosystem: "apk") && !noAlpineData.leavesUnchecked(ecosystem: "deb"))
        // One PyPI version that breaks PEP 440 leaves the other PyPI packages checked.
        let oneBadVersion = Coverage([entry("pypi", "app", "1"), entry("pypi", "other", "not a version!")], osNamespace: nil, lookup: index)
        #expect(!oneBadVersion.leavesUnchecked(ecosystem: "pypi"))
        let noNpmData = Coverage([entry("npm", "lodash", "4.17.4")], osNamespace: nil, lookup: index)
        #expect(noNpmData.leavesUnchecked(ecosystem: "npm") && !noNpmData.leavesUnchecked(ecosystem: "pypi"))
    }

    /// Pages are linked for ids a public database publishes, never made up for a feed's own.
    @Test func onlyPublishedIdsGetAPublicPage() {
        #expect(OSVPage.url(for: "GHSA-x84v-xcm2-53pg") == "https://github.com/advisories/GHSA-x84v-xcm2-53pg")
        #expect(OSVPage.url(for: "PYSEC-2018-28") == "https://osv.dev/vulnerability/PYSEC-2018-28")
        #expect(OSVPage.url(for: "DEBIAN-CVE-2023-4911") == "https://osv.dev/vulnerability/DEBIAN-CVE-2023-4911")
        for own in ["TEST-2026-0001", "DEBIAN-CVE-2023-4911-glibc-bookworm", "ALPINE-v3.7-musl-CVE-2019-14697"] {
            #expect(OSVPage.url(for: own) == nil, "\(own)")
        }
    }
}
