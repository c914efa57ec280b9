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
}
