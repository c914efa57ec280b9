@testable import FathomAdvisory
import FathomCore
import FathomInventory
import FathomTestSupport
import Foundation
import Testing

/// VEX in its three forms, compared as purls: a statement about one package never changes
/// another's finding, and the image may be the product.
@Suite(.timeLimit(.minutes(5))) struct VEXTests {
    static let image = ImageIdentity(
        registry: "127.0.0.1:5000", repository: "team/app", tag: "1",
        digests: ["sha256:1111111111111111111111111111111111111111111111111111111111111111"])

    static func finding(_ id: String, _ package: String, _ version: String, source: String? = nil, arch: String? = "x86_64") -> Finding {
        Finding(
            id: id, aliases: [], ecosystem: "apk", package: package, sourcePackage: source, installedVersion: version, fixedVersion: "9",
            status: .fixed, severity: .high, severitySource: nil, cvss: [], layerIndex: 0, path: "lib/apk/db/installed", source: "test",
            title: nil, references: [], arch: arch)
    }

    /// musl and musl-utils of Alpine 3.7, each affected by CVE-2019-14697.
    static let findings = [
        finding("CVE-2019-14697", "musl", "1.1.18-r3", source: "musl"), finding("CVE-2019-14697", "musl-utils", "1.1.18-r3", source: "musl"),
    ]

    static func purl(_ finding: Finding) -> PackageURL? {
        PackageURL(
            ecosystem: finding.ecosystem, name: finding.package, version: finding.installedVersion, arch: finding.arch,
            source: finding.sourcePackage.map { Package.Source(name: $0, version: finding.installedVersion) }, osID: "alpine", osVersion: "3.7.3")
    }

    static func suppressed(_ document: String, file: String = "vex.json", image: ImageIdentity? = image, findings: [Finding] = findings) throws
        -> Set<String>
    {
        var policy = ScanPolicy()
        policy.vex = try VEXDocument.statements(Array(document.utf8), file: file)
        return Set(policy.apply(findings, purl: purl, image: image).suppressed.map(\.package))
    }

    static func openVEX(_ products: String, status: String = "not_affected") -> String {
        // The shape vexctl writes (`vexctl create --product … --subcomponents …`).
        """
        {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://openvex.dev/docs/public/vex-0001", "author": "Example Security",
         "timestamp": "2026-11-30T10:00:00Z", "version": 1, "tooling": "vexctl/0.3.0",
         "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "timestamp": "2026-11-30T10:00:00Z", "products": \(products),
                         "status": "\(status)", "justification": "vulnerable_code_not_in_execute_path"}]}
        """
    }

    /// An ignore file edited on Windows (CRLF lines, a byte-order mark) reads as written: each
    /// line was one with the next, and its ids ended in a carriage return, ignoring nothing.
    @Test func anIgnoreFileWithCRLFLinesAndAByteOrderMarkReadsAsWritten() throws {
        let rules = try ScanPolicy.ignoreRules("\u{FEFF}CVE-2019-14697\r\nCVE-2018-0732 pkg:openssl exp:2099-01-01\r\n# a comment\r\n", file: "ignore")
        #expect(rules.map(\.id) == ["CVE-2019-14697", "CVE-2018-0732"])
        #expect(rules.map(\.origin) == ["ignore:1", "ignore:2"])
        #expect(rules.last?.package == "openssl" && rules.last?.expires != nil)
        let badDay = #expect(throws: FathomError.self) { try ScanPolicy.ignoreRules("CVE-1 exp:2099-13-45\n", file: "ignore") }
        #expect(badDay?.message.contains("'exp:2099-13-45' is not a calendar day") == true, "\(String(describing: badDay))")
        #expect(throws: FathomError.self) { try ScanPolicy.severities("") }
        // An empty package would match nothing, silently.
        let noPackage = #expect(throws: FathomError.self) { try ScanPolicy.ignoreRules("CVE-1 pkg:\n", file: "ignore") }
        #expect(noPackage?.message.contains("'pkg:' names no package") == true)
        #expect(throws: FathomError.self) { try ScanPolicy.severities(" , ") }
    }

    @Test func aPackageProductIsComparedAsAPurlNotASubstring() throws {
        // The statement names musl-utils: musl's finding stays (it once matched by substring).
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]"#)) == ["musl-utils"])
        // Without a version, every version of musl-utils; with another version, none.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl-utils"}]"#)) == ["musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r4"}]"#)).isEmpty)
        // Another namespace or type is another package.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/wolfi/musl-utils@1.1.18-r3"}]"#)).isEmpty)
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:deb/alpine/musl-utils@1.1.18-r3"}]"#)).isEmpty)
        // Qualifiers count only when given, and then must agree.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl@1.1.18-r3?arch=x86_64&distro=alpine-3.7"}]"#)) == ["musl"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl@1.1.18-r3?arch=aarch64"}]"#)).isEmpty)
        // A pkg:oci name and tag alone could be any registry's image: it names none.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/app?tag=1"}]"#)).isEmpty)
        // A statement that is not not_affected or fixed suppresses nothing.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl@1.1.18-r3"}]"#, status: "affected")).isEmpty)
    }

    /// A document that says both "not affected" and "affected" of one package suppresses nothing.
    @Test func anAffectedStatementWinsOverANotAffectedOne() throws {
        let document = """
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/both", "author": "x", "timestamp": "2026-11-30T10:00:00Z",
             "version": 2, "statements": [
               {"vulnerability": {"name": "CVE-2019-14697"}, "products": [{"@id": "pkg:apk/alpine/musl"}], "status": "not_affected",
                "justification": "vulnerable_code_not_present"},
               {"vulnerability": {"name": "CVE-2019-14697"}, "products": [{"@id": "pkg:apk/alpine/musl@1.1.18-r3"}], "status": "affected"}]}
            """
        #expect(try Self.suppressed(document) == [])
        // A not_affected statement without the justification OpenVEX requires is applied, and said.
        var warnings: [String] = []
        let bare = Self.openVEX(#"[{"@id": "pkg:apk/alpine/musl@1.1.18-r3"}]"#).replacingOccurrences(of: #", "justification": "vulnerable_code_not_in_execute_path""#, with: "")
        #expect(try VEXDocument.statements(Array(bare.utf8), file: "bare.json") { warnings.append($0) }.count == 1)
        #expect(warnings == ["bare.json (OpenVEX) statement 1 for CVE-2019-14697: not_affected without a justification or impact_statement, which OpenVEX requires: applied all the same"])
    }

    @Test func theImageAsProductCoversItsListedSubcomponentsOrEveryPackage() throws {
        let digest = Self.image.digests[0]
        let subcomponent = #""subcomponents": [{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]"#
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/app@\#(digest)", \#(subcomponent)}]"#)) == ["musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/app@\#(digest)"}]"#)) == ["musl", "musl-utils"])
        // By repository and tag, with or without the registry.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "127.0.0.1:5000/team/app:1", \#(subcomponent)}]"#)) == ["musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "team/app:1"}]"#)) == ["musl", "musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/app?repository_url=127.0.0.1:5000/team/app&tag=1"}]"#)) == ["musl", "musl-utils"])
        // Another digest, tag, repository or registry is another image: nothing.
        let other = "sha256:" + String(repeating: "2", count: 64)
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/app@\#(other)"}]"#)).isEmpty)
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "team/app:2"}]"#)).isEmpty)
        // A digest is the image wherever it is kept and whatever it is called: an OCI layout's or
        // an archive's image (named `oci:DIR:tag` here) is named by its digest alone.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/alpine@\#(digest)"}]"#)) == ["musl", "musl-utils"])
        let layout = ImageIdentity(name: "oci:/tmp/layouts/alpine:3.7", digests: [digest])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/alpine@\#(digest.replacingOccurrences(of: ":", with: "%3A"))"}]"#), image: layout) == ["musl", "musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "docker.io/library/alpine@\#(digest)"}]"#), image: layout) == ["musl", "musl-utils"])
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "pkg:oci/alpine@\#(other)"}]"#), image: layout).isEmpty)
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "registry.example.com/team/app:1"}]"#)).isEmpty)
        // Subcomponents listed but none a purl: they name nothing comparable, so nothing.
        #expect(try Self.suppressed(Self.openVEX(#"[{"@id": "team/app:1", "subcomponents": [{"@id": "musl"}]}]"#)).isEmpty)
        // No product at all: nothing (and a warning).
        var warnings: [String] = []
        _ = try VEXDocument.statements(Array(Self.openVEX("[]").utf8), file: "vex.json") { warnings.append($0) }
        #expect(warnings.contains { $0.contains("names no product") })
    }

    /// CycloneDX 1.5 VEX as Trivy reads it: components by bom-ref, `affects` by ref or BOM-link.
    @Test func cycloneDXAnalysesApplyToTheComponentsTheyAffect() throws {
        func document(state: String, ref: String) -> String {
            """
            {"bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
             "metadata": {"component": {"type": "container", "name": "team/app", "bom-ref": "image", "purl": "pkg:oci/app@\(Self.image.digests[0])"}},
             "components": [
               {"type": "library", "name": "musl", "version": "1.1.18-r3", "bom-ref": "musl-ref", "purl": "pkg:apk/alpine/musl@1.1.18-r3"},
               {"type": "library", "name": "musl-utils", "version": "1.1.18-r3", "bom-ref": "pkg:apk/alpine/musl-utils@1.1.18-r3", "purl": "pkg:apk/alpine/musl-utils@1.1.18-r3"}],
             "vulnerabilities": [{"id": "CVE-2019-14697", "analysis": {"state": "\(state)", "justification": "code_not_reachable",
                                  "response": ["will_not_fix"], "detail": "musl's scanf is not used"}, "affects": [{"ref": "\(ref)"}]}]}
            """
        }
        #expect(try Self.suppressed(document(state: "not_affected", ref: "musl-ref")) == ["musl"])
        #expect(try Self.suppressed(document(state: "false_positive", ref: "pkg:apk/alpine/musl-utils@1.1.18-r3")) == ["musl-utils"])
        // A false positive keeps its word (fathom's CycloneDX says it again), not not_affected's justification.
        let falsePositive = try VEXDocument.statements(Array(document(state: "false_positive", ref: "musl-ref").utf8), file: "vex.cdx.json") { _ in }
        #expect(falsePositive.map(\.justification) == ["false_positive"])
        #expect(try Self.suppressed(document(state: "resolved", ref: "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#musl-ref")) == ["musl"])
        #expect(try Self.suppressed(document(state: "not_affected", ref: "image")) == ["musl", "musl-utils"])
        #expect(try Self.suppressed(document(state: "exploitable", ref: "musl-ref")).isEmpty)
        #expect(try Self.suppressed(document(state: "in_triage", ref: "musl-ref")).isEmpty)
        #expect(throws: FathomError.self) { try Self.suppressed(document(state: "mostly_fine", ref: "musl-ref")) }
        // An SBOM (or a scan report) given as VEX states nothing, and says so.
        var warnings: [String] = []
        let sbom = #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library", "name": "musl", "purl": "pkg:apk/alpine/musl@1.1.18-r3"}]}"#
        #expect(try VEXDocument.statements(Array(sbom.utf8), file: "sbom.cdx.json") { warnings.append($0) }.isEmpty)
        #expect(warnings == ["sbom.cdx.json: a CycloneDX document with no VEX statement (0 vulnerabilities, none with an analysis.state): it suppresses nothing; an SBOM or a scan report is not VEX"])
        warnings = []
        _ = try VEXDocument.statements(Array(document(state: "not_affected", ref: "musl-ref").utf8), file: "vex.cdx.json") { warnings.append($0) }
        #expect(warnings.isEmpty)
    }

    /// CSAF 2.0 VEX in Red Hat's shape: product ids resolved through the product tree's purls and
    /// its relationships (a component of a platform); flags give the justification.
    @Test func csafProductStatusAppliesThroughTheProductTree() throws {
        let rpm = [
            Finding(
                id: "CVE-2023-42363", aliases: [], ecosystem: "rpm", package: "busybox", sourcePackage: "busybox", installedVersion: "1.36.1-1.el9",
                fixedVersion: nil, status: .affected, severity: .medium, severitySource: nil, cvss: [], layerIndex: 0, path: "var/lib/rpm",
                source: "test", title: nil, references: [], arch: "x86_64"),
            Finding(
                id: "CVE-2023-42363", aliases: [], ecosystem: "rpm", package: "busybox-petitboot", sourcePackage: "busybox",
                installedVersion: "1.36.1-1.el9", fixedVersion: nil, status: .affected, severity: .medium, severitySource: nil, cvss: [],
                layerIndex: 0, path: "var/lib/rpm", source: "test", title: nil, references: [], arch: "x86_64"),
        ]
        func purl(_ finding: Finding) -> PackageURL? {
            PackageURL(
                ecosystem: "rpm", name: finding.package, version: finding.installedVersion, arch: finding.arch,
                source: Package.Source(name: "busybox", version: finding.installedVersion), osID: "rhel", osVersion: "9.4")
        }
        // The real Red Hat-shaped document says known_affected: it suppresses nothing.
        let real = try Data(contentsOf: Fixtures.root.appendingPathComponent("vex/redhat/cve-2023-42363.json"))
        let statements = try VEXDocument.statements([UInt8](real), file: "cve-2023-42363.json")
        #expect(statements.allSatisfy { $0.status == .affected && $0.vulnerability == "CVE-2023-42363" })
        #expect(Set(statements.flatMap(\.products).compactMap(\.purl?.name)) == ["busybox", "busybox-petitboot"])
        var policy = ScanPolicy()
        policy.vex = statements
        #expect(policy.apply(rpm, purl: purl, image: nil).suppressed.isEmpty)

        // The same tree saying known_not_affected for busybox-petitboot alone (hand-written from it):
        // only busybox-petitboot's finding goes, with the flag's justification.
        var document = try #require(try JSONSerialization.jsonObject(with: real) as? [String: Any])
        var vulnerabilities = try #require(document["vulnerabilities"] as? [[String: Any]])
        vulnerabilities[0]["product_status"] = ["known_not_affected": ["rhel-6-els.els:busybox/busybox-petitboot"]]
        vulnerabilities[0]["flags"] = [["label": "vulnerable_code_not_present", "product_ids": ["rhel-6-els.els:busybox/busybox-petitboot"]]]
        document["vulnerabilities"] = vulnerabilities
        let edited = try JSONSerialization.data(withJSONObject: document)
        policy.vex = try VEXDocument.statements([UInt8](edited), file: "not-affected.json")
        let outcome = policy.apply(rpm, purl: purl, image: nil)
        #expect(outcome.suppressed.map(\.package) == ["busybox-petitboot"])
        #expect(outcome.suppressed.first?.justification == "vulnerable_code_not_present")
        #expect(outcome.kept.map(\.package) == ["busybox"])

        // A source product (`?arch=src`) covers every binary built from that source.
        vulnerabilities[0]["product_status"] = ["known_not_affected": ["rhel-6-els.els:busybox.src"]]
        document["vulnerabilities"] = vulnerabilities
        policy.vex = try VEXDocument.statements([UInt8](try JSONSerialization.data(withJSONObject: document)), file: "src.json")
        #expect(Set(policy.apply(rpm, purl: purl, image: nil).suppressed.map(\.package)) == ["busybox", "busybox-petitboot"])
    }

    /// CIQ's real CSAF VEX names its products without purls: they apply to nothing, said aloud.
    @Test func csafProductsWithoutPurlsApplyToNothingAndSaySo() throws {
        let bytes = try Data(contentsOf: Fixtures.root.appendingPathComponent("vex/cve-2022-37434.json"))
        var warnings: [String] = []
        let statements = try VEXDocument.statements([UInt8](bytes), file: "cve-2022-37434.json") { warnings.append($0) }
        #expect(statements.isEmpty)
        #expect(warnings.contains { $0.contains("CVE-2022-37434") && $0.contains("no purl in the product tree") })
    }

    /// Rules and statements that suppressed nothing are named (a misspelled id or package, a
    /// product that is not the image): they were passed over without a word. Statements that
    /// suppress nothing by their status (affected, under investigation) and expired rules are not.
    @Test func rulesThatSuppressedNothingAreNamed() throws {
        var policy = ScanPolicy()
        policy.ignoreRules = try ScanPolicy.ignoreRules(
            "CVE-2019-14697 pkg:musl\nCVE-2019-14697 pkg:musl-utlis\nCVE-1999-0001\nCVE-2019-14697 exp:2020-01-01\nCVE-2019-14697 pkg:musl-utils\n",
            file: "ignore")
        policy.vex = try VEXDocument.statements(Array(Self.openVEX(#"[{"@id": "pkg:apk/alpine/zlib@1.2.11-r1"}]"#).utf8), file: "vex.json")
            + VEXDocument.statements(Array(Self.openVEX(#"[{"@id": "pkg:apk/alpine/zlib@1.2.11-r1"}]"#, status: "affected").utf8), file: "affected.json")
        let outcome = policy.apply(Self.findings, purl: Self.purl, image: Self.image)
        // Line 5 names a finding line 1 suppressed first: it is used too.
        let unused = policy.unusedRules(used: outcome.usedRules)
        #expect(unused == ["ignore:2 (CVE-2019-14697 pkg:musl-utlis)", "ignore:3 (CVE-1999-0001)", "vex.json (OpenVEX) statement 1 (CVE-2019-14697)"], "\(unused)")
        #expect(ScanPolicy.unusedRulesNote(unused, of: "this image")?.hasPrefix("3 ignore rules or VEX statements suppressed nothing in this image") == true)
        #expect(ScanPolicy.unusedRulesNote([], of: "this image") == nil)
    }

    /// A resolved finding is known by its stored id alone: a rule naming the distribution's
    /// record (as scans reported it before findings were named by their CVE) still hides the
    /// stored CVE, and a rule naming the CVE hides a finding stored under the record's id.
    @Test func aRuleNamesAStoredFindingByTheRecordOrItsCVE() throws {
        var policy = ScanPolicy()
        policy.ignoreRules = try ScanPolicy.ignoreRules("ALPINE-v3.7-musl-CVE-2019-14697\nCVE-2018-0732\n", file: "ignore")
        func reports(_ id: String) -> Bool {
            policy.reports(id: id, package: "musl", installedVersion: "1.1.18-r3", fixed: true, severity: .high, purl: nil, image: nil)
        }
        #expect(!reports("CVE-2019-14697") && !reports("ALPINE-v3.7-musl-CVE-2019-14697"))
        #expect(!reports("ALPINE-v3.7-openssl-CVE-2018-0732") && !reports("CVE-2018-0732"))
        // Another CVE whose number begins the same is another vulnerability.
        #expect(reports("CVE-2019-1469") && reports("CVE-2018-07321") && reports("ALPINE-v3.7-openssl-CVE-2018-07321"))
    }

    @Test func aDocumentOfNoKnownFormIsAnError() throws {
        #expect(throws: FathomError.self) { try VEXDocument.statements(Array(#"{"hello": 1}"#.utf8), file: "x.json") }
        #expect(throws: FathomError.self) { try VEXDocument.statements(Array("not json".utf8), file: "x.json") }
    }
}
