@testable import FathomAdvisory
import FathomInventory
import FathomSQLiteStore
import FathomStore
import FathomTestSupport
import Foundation
import Testing

/// Real GitHub advisories (GHSA, in OSV form; CC-BY 4.0, see advisories/real/ghsa/PROVENANCE.md)
/// matched for every language ecosystem fathom reads, and what coverage says about packages
/// whose advisories cannot be evaluated.
@Suite struct EcosystemMatchingTests {
    static func ghsa(_ ids: [String]) throws -> AdvisoryIndex {
        var index = AdvisoryIndex()
        for id in ids {
            let path = Fixtures.root.appendingPathComponent("advisories/real/ghsa/\(id).json").path
            index.add([try AdvisoryImport.osv([UInt8](Data(contentsOf: URL(fileURLWithPath: path))), file: path)], source: "ghsa")
        }
        return index
    }

    static let all = [
        "GHSA-hrqr-hxpp-chr3", "GHSA-crjr-9rc5-ghw8", "GHSA-8xww-x3g3-6jcv", "GHSA-cwmx-hcrq-mhc3", "GHSA-q7rv-6hp3-vh96",
        "GHSA-66hf-2p6w-jqfw", "GHSA-5crp-9r3c-p9vr", "GHSA-98g6-xh36-x2p7",
    ]

    /// (ecosystem, name, version, the advisory expected or nil, its fixed version)
    static let cases: [(String, String, String, String?, String?)] = [
        // CVE-2019-16782: rack 2.0.0 up to 2.0.8, and everything below 1.6.12.
        ("gem", "rack", "2.0.1", "GHSA-hrqr-hxpp-chr3", "2.0.8"),
        ("gem", "rack", "1.6.11", "GHSA-hrqr-hxpp-chr3", "1.6.12"),
        ("gem", "rack", "2.0.8", nil, nil),
        ("gem", "rack", "1.6.12", nil, nil),
        // A RubyGems pre-release sorts below its release: 2.0.8.rc1 is still affected.
        ("gem", "rack", "2.0.8.rc1", "GHSA-hrqr-hxpp-chr3", "2.0.8"),
        ("gem", "nokogiri", "1.13.3", "GHSA-crjr-9rc5-ghw8", "1.13.4"),
        ("gem", "nokogiri", "1.13.4", nil, nil),
        // Four-part gem versions: 6.1.7.1 fixes 6.1.7.
        ("gem", "actionpack", "6.1.7", "GHSA-8xww-x3g3-6jcv", "6.1.7.1"),
        ("gem", "actionpack", "6.1.7.1", nil, nil),
        ("gem", "actionpack", "5.2.8.14", "GHSA-8xww-x3g3-6jcv", "5.2.8.15"),
        // Composer: a `v` tag, a stability suffix, a patch release.
        ("composer", "guzzlehttp/guzzle", "7.4.2", "GHSA-cwmx-hcrq-mhc3", "7.4.3"),
        ("composer", "guzzlehttp/guzzle", "v7.4.2", "GHSA-cwmx-hcrq-mhc3", "7.4.3"),
        ("composer", "guzzlehttp/guzzle", "7.4.3-RC1", "GHSA-cwmx-hcrq-mhc3", "7.4.3"),
        ("composer", "guzzlehttp/guzzle", "7.4.3", nil, nil),
        ("composer", "guzzlehttp/guzzle", "6.5.6", nil, nil),
        ("composer", "GuzzleHttp/PSR7", "2.1.0", "GHSA-q7rv-6hp3-vh96", "2.1.1"),
        ("composer", "laravel/framework", "8.74.0", "GHSA-66hf-2p6w-jqfw", "8.75.0"),
        ("composer", "laravel/framework", "8.75.0", nil, nil),
        // NuGet: ids are case-insensitive; four-part versions.
        ("nuget", "Newtonsoft.Json", "12.0.3", "GHSA-5crp-9r3c-p9vr", "13.0.1"),
        ("nuget", "newtonsoft.json", "13.0.1", nil, nil),
        ("nuget", "Newtonsoft.Json", "13.0.0.0", "GHSA-5crp-9r3c-p9vr", "13.0.1"),
        ("nuget", "System.Data.SqlClient", "4.8.5", "GHSA-98g6-xh36-x2p7", "4.8.6"),
        ("nuget", "Microsoft.Data.SqlClient", "5.1.2", "GHSA-98g6-xh36-x2p7", "5.1.3"),
        ("nuget", "Microsoft.Data.SqlClient", "5.1.3", nil, nil),
        ("nuget", "Microsoft.Data.SqlClient", "5.2.0-preview1.23109.1", nil, nil),
    ]

    @Test func realAdvisoriesMatchEveryLanguageEcosystem() throws {
        let index = try Self.ghsa(Self.all)
        for (ecosystem, name, version, expected, fixed) in Self.cases {
            let package = Package(ecosystem: ecosystem, name: name, version: version, path: "app")
            let matches = index.match(package, osNamespace: nil)
            #expect(matches.map(\.record.id) == (expected.map { [$0] } ?? []), "\(ecosystem) \(name) \(version)")
            #expect(matches.first?.fixedVersion == fixed, "\(ecosystem) \(name) \(version)")
        }
        let coverage = Coverage(
            Self.cases.map { InventoryEntry(package: Package(ecosystem: $0.0, name: $0.1, version: $0.2, path: "app"), layer: 0) },
            osNamespace: nil, lookup: index)
        #expect(coverage.checkedAgainst == ["NuGet", "Packagist", "RubyGems"])
        #expect(coverage.gaps.isEmpty, "\(coverage.gaps)")
    }

    /// A Java archive's package without a groupId (Spring's jars have no pom.properties, and
    /// their manifests name no group) is matched under the one group the advisories name its
    /// artifact with: Spring4Shell in spring-beans 5.3.17, as Trivy finds it through its index of
    /// Maven Central. An artifact two groups' advisories name is a gap that names both; one that
    /// no advisory names (the image's own jar) was checked.
    @Test func aMavenArtifactWithoutItsGroupTakesTheOneAdvisoriesName() async throws {
        var index = try Self.ghsa(["GHSA-36p3-wjmg-h94x", "GHSA-jfh8-c2jp-5v3q"])
        let entry = { (name: String, version: String, path: String) in
            InventoryEntry(package: Package(ecosystem: "maven", name: name, version: version, path: path), layer: 0)
        }
        let log4j = entry("org.apache.logging.log4j:log4j-core", "2.14.1", "opt/lib/log4j-core-2.14.1.jar")
        let spring = entry("spring-beans", "5.3.17", "opt/lib/spring-beans-5.3.17.jar")
        let own = entry("demo", "0.0.1-SNAPSHOT", "app/demo-0.0.1-SNAPSHOT.jar")
        // In memory and through a store (whose lookup reads advisories package by package).
        let store = try await SQLiteStore.open(path: try Fixtures.temporaryDirectory("maven-group") + "/fathom.db")
        for id in ["GHSA-36p3-wjmg-h94x", "GHSA-jfh8-c2jp-5v3q"] {
            let path = Fixtures.root.appendingPathComponent("advisories/real/ghsa/\(id).json").path
            try await store.importAdvisories([try AdvisoryImport.osv([UInt8](Data(contentsOf: URL(fileURLWithPath: path))), file: path)], source: id)
        }
        // A withdrawn record of another group's spring-beans (hand-made) is not a second group.
        let withdrawn = #"{"id":"GHSA-TEST-0000","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"org.other:spring-beans"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#
        index.add([try AdvisoryImport.osv(Array(withdrawn.utf8), file: "withdrawn.json")], source: "withdrawn")
        try await store.importAdvisories([try AdvisoryImport.osv(Array(withdrawn.utf8), file: "withdrawn.json")], source: "withdrawn")
        for lookup in [index as any AdvisoryLookup, try await store.advisories()] {
            let found = try await ImageMatcher.findings([log4j, spring, own], osNamespace: nil, lookup: lookup)
            // The finding keeps the inventory's name, so reports and re-matches join it to its package.
            #expect(
                found.map { "\($0.package) \($0.id) \($0.fixedVersion ?? "-")" }.sorted() == [
                    "org.apache.logging.log4j:log4j-core GHSA-jfh8-c2jp-5v3q 2.15.0",
                    "spring-beans GHSA-36p3-wjmg-h94x 5.3.18",
                ])
            // The name it was matched as is an inference, and the finding says it.
            #expect(found.map { "\($0.package) \($0.matchedAs ?? "-")" }.sorted() == [
                "org.apache.logging.log4j:log4j-core -", "spring-beans org.springframework:spring-beans",
            ])
            let coverage = Coverage([log4j, spring, own], osNamespace: nil, lookup: lookup)
            #expect(coverage.checkedAgainst == ["Maven"] && !coverage.isIncomplete, "\(coverage.gaps)")
        }
        try await store.close()

        // Two groups name `thing-lib`, one group names the one-word `widget` (hand-made records):
        // which applies is unknown (a one-word id is too likely another project's), and said.
        for (id, name) in [("GHSA-TEST-0001", "com.example:thing-lib"), ("GHSA-TEST-0002", "org.example:thing-lib"), ("GHSA-TEST-0003", "com.example:widget")] {
            let record = #"{"id":"\#(id)","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"\#(name)"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}]}"#
            index.add([try AdvisoryImport.osv(Array(record.utf8), file: "\(id).json")], source: "test")
        }
        let thing = entry("thing-lib", "1.0", "opt/lib/thing-lib-1.0.jar")
        let widget = entry("widget", "1.0", "opt/lib/widget-1.0.jar")
        #expect(try await ImageMatcher.findings([thing, widget], osNamespace: nil, lookup: index).isEmpty)
        let ambiguous = Coverage([thing, widget], osNamespace: nil, lookup: index)
        #expect(ambiguous.gaps.map { "\($0.namespace) \($0.reason!.rawValue) \($0.packages)" } == ["Maven incomplete-names 2"])
        #expect(
            ambiguous.warnings.first?.contains("thing-lib 1.0 in opt/lib/thing-lib-1.0.jar; advisories name com.example:thing-lib, org.example:thing-lib") == true,
            "\(ambiguous.warnings)")
    }

    /// A package with no version (an SBOM's component without one) is matched against nothing,
    /// though Maven's and RubyGems' orderings read an empty text as 0 and every range from 0
    /// holds it (Log4Shell for a log4j-core of no version): coverage names it instead.
    @Test func aPackageWithNoVersionIsAGapNotVersionZero() async throws {
        var index = AdvisoryIndex()
        for (id, ecosystem, name) in [("GHSA-TEST-0101", "Maven", "org.apache.logging.log4j:log4j-core"), ("GHSA-TEST-0102", "RubyGems", "rack")] {
            let record = #"{"id":"\#(id)","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"\#(ecosystem)","name":"\#(name)"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.15.0"}]}]}]}"#
            index.add([try AdvisoryImport.osv(Array(record.utf8), file: "\(id).json")], source: "test")
        }
        let log4j = InventoryEntry(package: Package(ecosystem: "maven", name: "org.apache.logging.log4j:log4j-core", version: "", path: "sbom.json"), layer: 0)
        let rack = InventoryEntry(package: Package(ecosystem: "gem", name: "rack", version: "", path: "sbom.json"), layer: 0)
        var versioned = log4j
        versioned.package.version = "2.14.1"
        #expect(try await ImageMatcher.findings([versioned], osNamespace: nil, lookup: index).map(\.id) == ["GHSA-TEST-0101"], "the record matches a version: the test can fail")
        #expect(try await ImageMatcher.findings([log4j, rack], osNamespace: nil, lookup: index).isEmpty)
        let coverage = Coverage([log4j, rack], osNamespace: nil, lookup: index)
        #expect(coverage.gaps.map { "\($0.namespace) \($0.reason!.rawValue) \($0.packages)" }.sorted() == ["Maven invalid-versions 1", "RubyGems invalid-versions 1"])
        #expect(coverage.warnings.contains { $0.contains("(org.apache.logging.log4j:log4j-core: no version given)") }, "\(coverage.warnings)")
        #expect(PackageURL(type: "maven", namespace: "org.apache.logging.log4j", name: "log4j-core", version: "").description == "pkg:maven/org.apache.logging.log4j/log4j-core")
    }

    /// OS packages of another type than the release's advisories are for (an SBOM's apk purls
    /// scanned with `--os debian:12`) match nothing and are a gap: Debian's musl advisories
    /// compared with an apk version reported "openssl 1.0.0-r0 → 3.0.22-1~deb12u2".
    @Test func osPackagesOfAnotherTypeAreAGapNotMatched() throws {
        var index = AdvisoryIndex()
        let debian = #"{"id":"DSA-TEST-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"musl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.3-1"}]}]}]}"#
        index.add([try AdvisoryImport.osv(Array(debian.utf8), file: "dsa.json")], source: "test")
        let apk = InventoryEntry(package: Package(ecosystem: "apk", name: "musl", version: "1.1.18-r3", path: "lib/apk/db/installed"), layer: 0)
        let deb = InventoryEntry(package: Package(ecosystem: "deb", name: "musl", version: "1.2.2-1", path: "var/lib/dpkg/status"), layer: 0)
        #expect(index.match(apk.package, osNamespace: "Debian:12").isEmpty)
        #expect(index.match(deb.package, osNamespace: "Debian:12").map(\.record.id) == ["DSA-TEST-1"])
        let coverage = Coverage([apk, deb], osNamespace: "Debian:12", lookup: index)
        #expect(coverage.checkedAgainst == ["Debian:12"])
        #expect(coverage.gaps.map { "\($0.namespace) \($0.reason!.rawValue) \($0.packages)" } == ["Debian:12 other-package-type 1"])
        #expect(coverage.warnings == ["Debian:12's advisories are for deb packages: 1 OS package was not checked (apk musl 1.1.18-r3)"])
        // A fleet counts it with its reason: not "no advisory data for Debian:12", which it has.
        #expect(coverage.gapNames == ["Debian:12: OS packages of another type"])
        #expect(OSRelease.packageType(ofNamespace: "Wolfi") == "apk" && OSRelease.packageType(ofNamespace: "Ubuntu:22.04") == "deb")
        #expect(OSRelease.packageType(ofNamespace: "Rocky Linux:9") == "rpm")
    }

    /// An ecosystem whose advisories were not evaluated is a gap, never "checked".
    @Test func unevaluatedEcosystemsAreGaps() throws {
        var index = try Self.ghsa(Self.all)
        // A hand-made record in a namespace fathom has no version ordering for.
        let photon = #"{"id":"PHSA-TEST-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Photon OS:5.0","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.9-1.ph5"}]}]}]}"#
        index.add([try AdvisoryImport.osv(Array(photon.utf8), file: "photon.json")], source: "test")
        let entries = [
            Package(ecosystem: "gem", name: "rack", version: "2.0.1", path: "a"),
            Package(ecosystem: "gem", name: "rack", version: "not a version", path: "b"),
            Package(ecosystem: "composer", name: "laravel/framework", version: "dev-main", path: "c"),
            Package(ecosystem: "hex", name: "plug", version: "1.14.0", path: "d"),
            Package(ecosystem: "cocoapods", name: "AFNetworking", version: "4.0.1", path: "e"),
        ].map { InventoryEntry(package: $0, layer: 0) }
        let coverage = Coverage(entries, osNamespace: nil, lookup: index)
        #expect(coverage.checkedAgainst == ["RubyGems"])
        let gaps = Dictionary(uniqueKeysWithValues: coverage.gaps.map { ("\($0.namespace) \($0.reason!.rawValue)", $0) })
        // Hex has an OSV ecosystem (none of its advisories is in this set); CocoaPods has none.
        #expect(Set(gaps.keys) == ["RubyGems invalid-versions", "Packagist invalid-versions", "Hex no-advisories", "cocoapods unsupported-ecosystem"])
        // A version the ordering rejects is in no range, even one from 0: a gap, not a finding.
        #expect(index.match(Package(ecosystem: "composer", name: "guzzlehttp/guzzle", version: "dev-main", path: "c"), osNamespace: nil).isEmpty)
        #expect(index.match(Package(ecosystem: "nuget", name: "Newtonsoft.Json", version: "v12.0.1", path: "d"), osNamespace: nil).isEmpty)
        #expect(gaps["RubyGems invalid-versions"]?.example?.contains("not a version") == true)
        #expect(gaps["Packagist invalid-versions"]?.message.contains("dev branch") == true, "\(coverage.warnings)")
        #expect(coverage.isIncomplete)

        // A Go binary's main module built from a checkout, "(devel)", is the image's own code: no gap.
        var go = AdvisoryIndex()
        go.add([try AdvisoryImport.osv(Array(#"{"id":"GO-TEST-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.20.0"}]}]}]}"#.utf8), file: "go.json")], source: "go")
        let binary = [
            Package(ecosystem: "go", name: "example.com/app", version: "(devel)", path: "usr/bin/app"),
            Package(ecosystem: "go", name: "stdlib", version: "v1.19.1", path: "usr/bin/app"),
        ].map { InventoryEntry(package: $0, layer: 0) }
        let goCoverage = Coverage(binary, osNamespace: nil, lookup: go)
        #expect(goCoverage.gaps.isEmpty && goCoverage.checkedAgainst == ["Go"], "\(goCoverage.gaps)")

        let os = [Package(ecosystem: "rpm", name: "openssl", version: "3.0.8-1.ph5", path: "var/lib/rpm")].map { InventoryEntry(package: $0, layer: 0) }
        let photonCoverage = Coverage(os, osNamespace: "Photon OS:5.0", lookup: index)
        #expect(photonCoverage.checkedAgainst.isEmpty)
        #expect(photonCoverage.gaps.map(\.reason) == [.noVersionOrdering])
        #expect(photonCoverage.warnings.first?.contains("cannot be evaluated") == true)
    }

    /// Reports stored before gaps had reasons still read, as "no advisories".
    @Test func gapsWithoutAReasonReadAsNoAdvisories() throws {
        let old = #"{"checkedAgainst":[],"gaps":[{"namespace":"Alpine:v3.99","packages":3,"isOS":true}],"osPackagesWithoutRelease":0}"#
        let coverage = try JSONDecoder().decode(Coverage.self, from: Data(old.utf8))
        #expect(coverage.gaps.first?.message == "no advisories for Alpine:v3.99: its 3 OS packages were not checked")
    }
}

/// Each reference once, the advisory's own page first.
@Suite struct ReferenceOrderTests {
    static func record(_ id: String) throws -> OSVRecord {
        let path = Fixtures.root.appendingPathComponent("advisories/real/ghsa/\(id).json").path
        return try AdvisoryImport.osv([UInt8](Data(contentsOf: URL(fileURLWithPath: path))), file: path)
    }

    @Test func theAdvisoryPageComesFirst() throws {
        // An ADVISORY reference (NVD's page) among WEB ones.
        let rack = try Self.record("GHSA-hrqr-hxpp-chr3").orderedReferences
        #expect(rack.first == "https://nvd.nist.gov/vuln/detail/CVE-2019-16782")
        #expect(rack.count == 11 && Set(rack).count == 11)
        // No ADVISORY reference and no CVE: GitHub's page for the GHSA id, not the first issue.
        let newtonsoft = try Self.record("GHSA-5crp-9r3c-p9vr").orderedReferences
        #expect(newtonsoft.first == "https://github.com/advisories/GHSA-5crp-9r3c-p9vr")
        #expect(newtonsoft.count == 8)
    }

    @Test func duplicatesAreDropped() throws {
        let json = #"""
            {"id":"DSA-1-1","aliases":["CVE-2024-1"],"modified":"2024-01-01T00:00:00Z","references":[
              {"type":"WEB","url":"https://example.org/fix"},{"type":"WEB","url":"https://example.org/fix/"},
              {"type":"ADVISORY","url":"https://security-tracker.debian.org/tracker/CVE-2024-1"},
              {"type":"ADVISORY","url":"https://www.debian.org/security/2024/DSA-1-1"},
              {"type":"ADVISORY","url":"https://security-tracker.debian.org/tracker/CVE-2024-1"}]}
            """#
        let record = try AdvisoryImport.osv(Array(json.utf8), file: "dsa.json")
        #expect(record.orderedReferences == [
            "https://www.debian.org/security/2024/DSA-1-1", "https://security-tracker.debian.org/tracker/CVE-2024-1",
            "https://example.org/fix",
        ])
    }

    /// Findings carry the ordered references, so every report format links the same page.
    @Test func findingsCarryThem() throws {
        let index = try EcosystemMatchingTests.ghsa(["GHSA-5crp-9r3c-p9vr"])
        let findings = ImageMatcher.findings(
            [InventoryEntry(package: Package(ecosystem: "nuget", name: "Newtonsoft.Json", version: "12.0.1", path: "app.deps.json"), layer: 0)],
            osNamespace: nil, index: index)
        #expect(findings.first?.references.first == "https://github.com/advisories/GHSA-5crp-9r3c-p9vr")
    }
}

/// OSV's own Debian records (osv.dev, from the security tracker) keep the urgency in
/// `ecosystem_specific`; hand-made records in that shape.
@Suite struct OSVDebianUrgencyTests {
    @Test func unimportantAndEndOfLifeFromEcosystemSpecific() throws {
        func record(_ id: String, _ urgency: String) throws -> OSVRecord {
            let json = #"{"id":"\#(id)","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:11","name":"busybox"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}],"ecosystem_specific":{"urgency":"\#(urgency)"}}]}"#
            return try AdvisoryImport.osv(Array(json.utf8), file: "\(id).json")
        }
        var index = AdvisoryIndex()
        index.add([try record("CVE-2022-1", "unimportant"), try record("CVE-2022-2", "end-of-life"), try record("CVE-2022-3", "low")], source: "osv-debian")
        let busybox = Package(ecosystem: "deb", name: "busybox", version: "1:1.30.1-6+b3", source: .init(name: "busybox", version: "1:1.30.1-6"), path: "s")
        let findings = ImageMatcher.findings([InventoryEntry(package: busybox, layer: 0)], osNamespace: "Debian:11", index: index)
        let byID = Dictionary(uniqueKeysWithValues: findings.map { ($0.id, "\($0.status.rawValue) \($0.unimportant == true)") })
        #expect(byID == ["CVE-2022-1": "affected true", "CVE-2022-2": "end_of_life false", "CVE-2022-3": "affected false"])
        let outcome = ScanPolicy().apply(findings, purl: { _ in nil }, image: nil)
        #expect(outcome.kept.map(\.id).sorted() == ["CVE-2022-2", "CVE-2022-3"])
        #expect(outcome.filtered.unimportant == 1)
    }
}
