@testable import FathomAdvisory
import FathomCore
import FathomInventory
import FathomSource
import FathomPipeline
import FathomStore
import FathomTestSupport
import FathomVersion
import Foundation
import Testing
import FathomSQLiteStore

/// Real feeds against real images and binaries.
@Suite(.timeLimit(.minutes(6))) struct RealFeedTests {
    static func advisory(_ relative: String) -> String { Fixtures.root.appendingPathComponent("advisories/\(relative)").path }
    static func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    /// The Alpine 3.7.3 minirootfs as an image, scanned.
    static func alpine373() async throws -> ImageScanResult {
        let directory = try Fixtures.temporaryDirectory("alpine-373")
        let plain = directory + "/layer.tar"
        try await Tool.run(["gzip", "-dc", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")]).stdout
            .write(to: URL(fileURLWithPath: plain))
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("3.7.3", [try await builder.addImage(layers: [(plain, .gzip)])])])
        return try await ImageScanner().scan(try OCILayoutSource(directory: directory + "/oci"))
    }

    /// An independent reading (Python's YAML) of every fixture secdb: each (file, package,
    /// vulnerability, fixed version) a secfixes line names, every CVE of a line (as the id it
    /// names: the feed's `CVE_2019-2426`, `CVE-2017-8073.patch` and `CVE 2018-16859` are typos),
    /// or its first id that is not a broken CVE (xen's `CVE-????-?????`) when it has none.
    static func secfixes() async throws -> [(file: String, package: String, id: String, version: String)] {
        let program = """
            import glob, re, sys, yaml
            for f in sorted(glob.glob(sys.argv[1] + '/*/*.yaml')):
                d = yaml.safe_load(open(f))
                for e in d.get('packages') or []:
                    for ver, ids in (e['pkg'].get('secfixes') or {}).items():
                        if str(ver) == '0': continue
                        for i in ids or []:
                            tokens = [t.strip('()[]') for t in re.split(r'[ \t,]+', str(i)) if t.strip('()[]')]
                            tokens = re.sub(r'(^| )CVE ([0-9]{4}-[0-9]{4,})', r'\\1CVE-\\2', ' '.join(tokens), flags=re.I).split(' ') if tokens else []
                            cves = ['CVE-%s-%s' % m.groups() for m in (re.match(r'CVE[-_]([0-9]{4})-([0-9]{4,})', t, re.I) for t in tokens) if m]
                            for cve in cves or [t for t in tokens if not t.upper().startswith('CVE')][:1]: print(f, e['pkg']['name'], cve, ver, sep='\t')
            """
        return try await Tool.run(["/usr/bin/python3", "-c", program, advisory("alpine-secdb")]).text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return (fields[0], fields[1], fields[2], fields[3])
        }
    }

    /// A CVE the secdb lists under several fixes of one package is fixed in the highest of them
    /// (GNU `sort -V` decides which), in every fixture release; the lowest would call versions
    /// between the two fixed, which the feed still calls vulnerable.
    @Test func secdbCVEsListedUnderSeveralFixesAreFixedInTheHighest() async throws {
        // Every (release, package, CVE) listed under more than one distinct fix.
        var fixes: [String: Set<String>] = [:]
        for (file, name, cve, version) in try await Self.secfixes() { fixes["\(file)\t\(name)\t\(cve)", default: []].insert(version) }
        let listed = fixes.filter { $0.value.count > 1 }.keys.sorted().map { "\($0)\t\(fixes[$0]!.sorted().joined(separator: " "))" }
        #expect(listed.count > 100)
        var records: [String: [OSVRecord]] = [:]
        var checked = 0
        for line in listed {
            let fields = line.split(separator: "\t").map(String.init)
            let (file, name, cve, versions) = (fields[0], fields[1], fields[2], fields[3].split(separator: " ").map(String.init))
            if records[file] == nil { records[file] = try AdvisoryImport.alpineSecdb(try Self.bytes(file), file: file) }
            let highest = try await Tool.run(["sort", "-V"], input: Data(versions.joined(separator: "\n").utf8)).text
                .split(separator: "\n").last.map(String.init)
            let record = records[file]!.first { $0.aliases == [cve] && $0.affected?.first?.package?.name == name }
            let fixed = record?.affected?.first?.ranges?.first?.events.compactMap(\.fixed)
            #expect(fixed == highest.map { [$0] }, "\(file) \(name) \(cve) \(versions)")
            checked += 1
        }
        #expect(checked == listed.count)

        // wireshark 2.4.1-r0 on Alpine 3.7: CVE-2017-15191 is listed under 2.2.10-r0 and 2.4.2-r0.
        var index = AdvisoryIndex()
        let v37 = Self.advisory("alpine-secdb/v3.7/community.yaml")
        index.add(try AdvisoryImport.alpineSecdb(try Self.bytes(v37), file: v37), source: "alpine-secdb")
        let wireshark = Package(ecosystem: "apk", name: "wireshark", version: "2.4.1-r0", source: nil, path: "lib/apk/db/installed")
        let match = index.match(wireshark, osNamespace: "Alpine:v3.7").first { $0.record.aliases == ["CVE-2017-15191"] }
        #expect(match?.fixedVersion == "2.4.2-r0")
    }

    /// Every CVE of a secfixes line is a record: v3.7's xen lists "CVE-2017-5753 CVE-2017-5715
    /// CVE-2017-5754 XSA-254 XPTI" under 4.9.1-r3 (Spectre v1 and v2, Meltdown); a line with no
    /// CVE is named by its first id. Checked against an independent reading of every fixture.
    @Test func secdbRecordsNameEveryCVEOfALine() async throws {
        var byFile: [String: Set<String>] = [:]
        for (file, name, cve, _) in try await Self.secfixes() { byFile[file, default: []].insert("\(name) \(cve)") }
        #expect(byFile.count > 10)
        for (file, pairs) in byFile {
            let records = try AdvisoryImport.alpineSecdb(try Self.bytes(file), file: file)
            let ours = Set(records.map { "\($0.affected?.first?.package?.name ?? "") \($0.aliases?.first ?? "")" })
            #expect(ours == pairs, "\(file): missing \(pairs.subtracting(ours).sorted().prefix(5)), extra \(ours.subtracting(pairs).sorted().prefix(5))")
        }
        let v37 = Self.advisory("alpine-secdb/v3.7/main.yaml")
        let xen = try AdvisoryImport.alpineSecdb(try Self.bytes(v37), file: v37).filter { $0.affected?.first?.package?.name == "xen" }
        for cve in ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754", "CVE-2018-3646"] {
            #expect(xen.contains { $0.aliases == [cve] }, "xen \(cve)")
        }
        // The feed's typos name the CVEs they mean.
        let community = Self.advisory("alpine-secdb/v3.7/community.yaml")
        let openjdk = try AdvisoryImport.alpineSecdb(try Self.bytes(community), file: community).filter { $0.affected?.first?.package?.name == "openjdk7" }
        #expect(openjdk.contains { $0.id == "ALPINE-v3.7-openjdk7-CVE-2019-2426" && $0.aliases == ["CVE-2019-2426"] })
        let v34 = Self.advisory("alpine-secdb/v3.4/main.yaml")
        let weechat = try AdvisoryImport.alpineSecdb(try Self.bytes(v34), file: v34).filter { $0.affected?.first?.package?.name == "weechat" }
        #expect(weechat.map(\.aliases) == [["CVE-2017-8073"]])
        // "CVE 2018-16859" is that CVE; xen's placeholder "CVE-????-?????" before "XSA-295" names
        // the XSA; a line cut short ("CVE-20", a truncated file's last) names nothing.
        let v39 = Self.advisory("alpine-secdb/v3.9/main.yaml")
        let v39Records = try AdvisoryImport.alpineSecdb(try Self.bytes(v39), file: v39)
        #expect(v39Records.contains { $0.id == "ALPINE-v3.9-ansible-CVE-2018-16859" })
        #expect(v39Records.contains { $0.id == "ALPINE-v3.9-xen-XSA-295" } && !v39Records.contains { $0.id.contains("?") })
        // Matched, an entry of one Xen advisory is named by it, as the secdb (and Trivy) names
        // it; fathom's record id stays its first alias, for ignore rules and stored history.
        var index = AdvisoryIndex()
        index.add(v39Records, source: "alpine-secdb")
        let xenFindings = ImageMatcher.findings(
            [WolfiTests.apk("xen", "4.11.1-r0", origin: "xen")], osNamespace: "Alpine:v3.9", index: index)
        let xsa295 = try #require(xenFindings.first { $0.id == "XSA-295" }, "\(xenFindings.map { $0.id }.prefix(8))")
        #expect(xsa295.aliases == ["ALPINE-v3.9-xen-XSA-295"] && xsa295.fixedVersion == "4.11.2-r0")
        #expect(xsa295.waivableNames == ["XSA-295", "ALPINE-v3.9-xen-XSA-295"])
        #expect(!xenFindings.contains { $0.id.hasPrefix("ALPINE-") }, "\(xenFindings.map { $0.id }.filter { $0.hasPrefix("ALPINE-") })")
        #expect(xenFindings.contains { $0.id == "CVE-2019-11091" })
        #expect(AdvisoryImport.identifiers(in: "CVE-20") == [] && AdvisoryImport.identifiers(in: "CVE 2018-16859") == ["CVE-2018-16859"])
        #expect(AdvisoryImport.identifiers(in: "cve-2020-1234") == ["CVE-2020-1234"])
    }

    @Test func alpine373AgainstSecdbReportsMusl() async throws {
        let result = try await Self.alpine373()
        #expect(result.os?.namespace == "Alpine:v3.7")
        var index = AdvisoryIndex()
        for repository in ["main", "community"] {
            let path = Self.advisory("alpine-secdb/v3.7/\(repository).yaml")
            index.add(try AdvisoryImport.alpineSecdb(try Self.bytes(path), file: path), source: "alpine-secdb")
        }
        #expect(index.recordCount > 1000)
        var findings: [(Package, AdvisoryIndex.Match)] = []
        for entry in result.packages {
            for match in index.match(entry.package, osNamespace: result.os?.namespace) { findings.append((entry.package, match)) }
        }
        let musl = findings.filter { $0.0.name == "musl" }
        #expect(!musl.isEmpty)
        #expect(musl.allSatisfy { $0.0.version == "1.1.18-r3" })
        #expect(musl.contains { $0.1.fixedVersion == "1.1.18-r4" && ($0.1.record.aliases ?? []).contains("CVE-2019-14697") })
        // Every finding's installed version is below its fix.
        for (package, match) in findings {
            let fixed = try #require(match.fixedVersion)
            #expect(try ApkVersion().compare(package.version, fixed) == .less, "\(package.name) \(package.version) vs \(fixed)")
        }
    }

    @Test func requests2191ReportsPYSEC201828() async throws {
        let path = Self.advisory("osv-pypi-sample/PYSEC-2018-28.yaml")
        let record = try AdvisoryImport.osv(try Self.bytes(path), file: path)
        #expect(record.id == "PYSEC-2018-28")
        // No summary: its title is its details' first sentence (Harbor's description, the table's line).
        #expect(record.summary == nil)
        #expect(record.title?.hasPrefix("The Requests package before 2.20.0 for Python sends an HTTP Authorization header to an http URI") == true, "\(record.title ?? "")")
        #expect(record.title?.hasSuffix("sniffing the network.") == true && record.title?.contains("\n") == false, "\(record.title ?? "")")
        var index = AdvisoryIndex()
        index.add([record], source: "pypa")
        let vulnerable = Package(ecosystem: "pypi", name: "requests", version: "2.19.1", path: "site-packages/requests-2.19.1.dist-info/METADATA")
        let matches = index.match(vulnerable, osNamespace: "Debian:12")
        #expect(matches.map(\.record.id) == ["PYSEC-2018-28"])
        #expect(matches.first?.fixedVersion == "2.20.0")
        let patched = Package(ecosystem: "pypi", name: "Requests", version: "2.20.0", path: "x")
        #expect(index.match(patched, osNamespace: nil).isEmpty)
        // A version pip and packaging refuse is no release an advisory names: no finding (as a
        // legacy version it came before every fix), and coverage says it was not checked.
        let custom = Package(ecosystem: "pypi", name: "requests", version: "2.25.1.custom", path: "x")
        #expect(index.match(custom, osNamespace: nil).isEmpty)
        let coverage = Coverage([InventoryEntry(package: custom, layer: 0)], osNamespace: nil, lookup: index)
        #expect(coverage.gaps.map(\.reason) == [.invalidVersions], "\(coverage.gaps)")
    }

    /// The same vulnerability in two feeds (PyPA's PYSEC-2018-28 names GHSA-x84v-xcm2-53pg and
    /// CVE-2018-18074 as aliases; the GHSA names the CVE) is one finding, as Trivy and Grype
    /// report it: the GHSA, which rates it, with the others as aliases. Two findings made the
    /// HIGH count and the remediation's "fixes" count double.
    @Test func aliasedRecordsOfTwoFeedsAreOneFinding() async throws {
        let pysec = try AdvisoryImport.osv(try Self.bytes(Self.advisory("osv-pypi-sample/PYSEC-2018-28.yaml")), file: "PYSEC-2018-28.yaml")
        let ghsaPath = Self.advisory("real/ghsa/GHSA-x84v-xcm2-53pg.json")
        let ghsa = try AdvisoryImport.osv(try Self.bytes(ghsaPath), file: ghsaPath)
        var index = AdvisoryIndex()
        index.add([pysec], source: "pypa")
        index.add([ghsa], source: "ghsa")
        let requests = Package(ecosystem: "pypi", name: "requests", version: "2.19.1", path: "site-packages/requests-2.19.1.dist-info/METADATA")
        #expect(index.match(requests, osNamespace: nil).count == 2, "both feeds match it")
        let findings = ImageMatcher.findings([InventoryEntry(package: requests, layer: 0)], osNamespace: nil, index: index)
        #expect(findings.map(\.id) == ["GHSA-x84v-xcm2-53pg"])
        #expect(Set(findings.first?.aliases ?? []) == ["CVE-2018-18074", "PYSEC-2018-28"])
        #expect(findings.first?.severity == .high && findings.first?.fixedVersion == "2.20.0")
        #expect(Remediation.group(findings).first?.fixes == 1)

        // Two CVEs that name one GHSA (PyPA's records for AccessControl, real data) stay two
        // findings: a group that names more than one CVE is not merged.
        let directory = try Fixtures.temporaryDirectory("accesscontrol")
        try await Tool.run(["tar", "-xzf", Self.advisory("osv-pypi.tar.gz"), "-C", directory, "vulns/accesscontrol"])
        let accessControl = try ["PYSEC-2021-335", "PYSEC-2021-370"].map { id in
            let path = directory + "/vulns/accesscontrol/\(id).yaml"
            return try FeedReader.parseDocument(try Self.bytes(path), name: path)[0]
        }
        #expect(accessControl.allSatisfy { $0.aliases?.contains("GHSA-qcx9-j53g-ccgf") == true })
        var pypa = AdvisoryIndex()
        pypa.add(accessControl, source: "pypa")
        let installed = Package(ecosystem: "pypi", name: "AccessControl", version: "5.1", path: "x")
        let both = ImageMatcher.findings([InventoryEntry(package: installed, layer: 0)], osNamespace: nil, index: pypa)
        #expect(both.map(\.id).sorted() == ["PYSEC-2021-335", "PYSEC-2021-370"], "\(both.map(\.id))")

        // Records only `related` to one CVE (a distribution's advisory covering several) stay apart.
        func record(_ id: String, related: [String]) throws -> OSVRecord {
            let json = #"{"id": "\#(id)", "modified": "2024-01-01T00:00:00Z", "related": \#(related), "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}]}"#
            return try AdvisoryImport.osv(Array(json.utf8), file: id)
        }
        var related = AdvisoryIndex()
        related.add([try record("X-1", related: ["CVE-2018-18074"]), try record("X-2", related: ["CVE-2018-18074"])], source: "x")
        let apart = ImageMatcher.findings([InventoryEntry(package: requests, layer: 0)], osNamespace: nil, index: related)
        #expect(apart.map(\.id).sorted() == ["X-1", "X-2"])

        // Feeds that disagree on the fix: the merged finding gives the highest (PEP 440 orders
        // 2.20.0 before 2.20.1), whichever record is kept.
        let later = try AdvisoryImport.osv(
            Array(#"{"id": "Z-1", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2018-18074"], "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.1"}]}]}]}"#.utf8),
            file: "Z-1")
        index.add([later], source: "z")
        let disagreeing = ImageMatcher.findings([InventoryEntry(package: requests, layer: 0)], osNamespace: nil, index: index)
        #expect(disagreeing.count == 1)
        // Kept: GHSA's record (it rates the vulnerability, Z-1 does not), with Z-1's later fix.
        #expect(disagreeing.first?.id == "GHSA-x84v-xcm2-53pg" && disagreeing.first?.fixedVersion == "2.20.1")
        let names = Set(disagreeing.first?.aliases ?? [])
        #expect(names.contains("PYSEC-2018-28") && names.contains("CVE-2018-18074"), "\(names)")
    }

    /// Go 1.15.2 (trivy's test binary) against the Go vulndb: the stdlib advisories fathom
    /// reports are exactly those an independent evaluation (Python, numeric x.y.z) finds.
    @Test func goStdlibAdvisoriesForGo1152() async throws {
        let directory = try Fixtures.temporaryDirectory("osv-go")
        try await Tool.run(["tar", "-xzf", Self.advisory("osv-go.tar.gz"), "-C", directory])
        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/osv").filter { $0.hasSuffix(".json") }
        #expect(files.count == 4291)
        var index = AdvisoryIndex()
        index.add(try files.map { try AdvisoryImport.osv(try Self.bytes(directory + "/osv/" + $0), file: $0) }, source: "go-vulndb")

        let binary = try Self.bytes(Fixtures.root.appendingPathComponent("pkgdb/go/trivy-test.elf").path)
        var scanner = BinaryAnalyzer().makeScanner(path: "usr/bin/test", size: Int64(binary.count))
        binary.withUnsafeBytes { scanner.feed($0) }
        let stdlib = try #require(scanner.finish().packages.first { $0.name == "stdlib" })
        #expect(stdlib.version == "v1.15.2")
        let ours = Set(index.match(stdlib, osNamespace: nil).map(\.record.id))

        let expected = try await GoVulnOracle.stdlibAdvisories(feedDirectory: directory, goVersion: "1.15.2")
        #expect(expected.count > 100)
        #expect(ours == expected)
        #expect(ours.contains("GO-2021-0069"))  // CVE-2020-28362, math/big, fixed in 1.15.5

        // The advice names the one version that fixes every finding: the highest fixed version,
        // as GNU sort's version ordering puts them (the binary says v1.15.2, OSV says 1.15.5).
        let findings = ImageMatcher.findings([InventoryEntry(package: stdlib, layer: 0)], osNamespace: nil, index: index)
        let fixes = Set(findings.compactMap(\.fixedVersion))
        #expect(fixes.count > 10)
        let sorted = try await Tool.run(["sort", "-V"], input: Data(fixes.joined(separator: "\n").utf8)).text
        let remediation = try #require(Remediation.group(findings).first)
        #expect(remediation.problem == nil)
        #expect(remediation.upgradeTo == sorted.split(separator: "\n").last.map(String.init))
        #expect(remediation.upgradeTo?.hasPrefix("1.2") == true, "\(remediation.upgradeTo ?? "none")")
    }

    /// End-of-support dates are flagged once passed, and only for releases fathom knows.
    @Test func endOfSupportIsFlaggedOncePassed() async throws {
        let formatter = ISO8601DateFormatter()
        let day = try #require(formatter.date(from: "2026-11-29T00:00:00Z"))
        #expect(OSLifecycle.warning(for: "Alpine:v3.7", now: day)?.contains("reached its end of support on 2019-11-01") == true)
        #expect(OSLifecycle.warning(for: "Alpine:v3.21", now: day)?.contains("2026-11-01") == true)
        #expect(OSLifecycle.warning(for: "Alpine:v3.22", now: day) == nil)
        #expect(OSLifecycle.warning(for: "Debian:12", now: day) == nil)
        #expect(OSLifecycle.warning(for: "Debian:10", now: day)?.contains("2024-06-30") == true)
        // 22.04's day is not fixed by Canonical yet: not known, so not flagged.
        #expect(OSLifecycle.warning(for: "Ubuntu:22.04", now: day) == nil)
        #expect(OSLifecycle.warning(for: "Ubuntu:20.04", now: day)?.contains("2025-05-31") == true)
        #expect(OSLifecycle.warning(for: "Ubuntu:24.04", now: day) == nil)
        #expect(OSLifecycle.warning(for: "Red Hat:7", now: day)?.contains("2024-06-30") == true)
        #expect(OSLifecycle.warning(for: "Red Hat:9", now: day) == nil && OSLifecycle.endOfSupport(of: "Red Hat:9") == "2032-05-31")
        #expect(OSLifecycle.endOfSupport(of: "AlmaLinux:8") == "2029-05-31" && OSLifecycle.endOfSupport(of: "Rocky Linux:9") == "2032-05-31")
        #expect(OSLifecycle.warning(for: "Red Hat:6", now: day)?.contains("2020-11-30") == true)
        // CentOS is checked against Red Hat's advisories but ended on its own days: CentOS
        // Linux 8 at the end of 2021, not with RHEL 8 in 2029.
        let centOS = [
            OSRelease.make(id: "centos", versionID: "8", prettyName: "CentOS Linux 8", idLike: ["rhel", "fedora"], source: "etc/os-release"),
            OSRelease.make(id: "centos", versionID: "9", prettyName: "CentOS Stream 9", idLike: ["rhel", "fedora"], source: "etc/os-release"),
            // As /etc/redhat-release names it.
            OSRelease.make(id: "centos", versionID: "7.9.2009", prettyName: "CentOS Linux release 7.9.2009 (Core)", idLike: nil, source: "etc/redhat-release"),
        ]
        #expect(centOS.map(\.namespace) == ["Red Hat:8", "Red Hat:9", "Red Hat:7"])
        let releases = centOS.map { OSLifecycle.release(id: $0.id, prettyName: $0.prettyName, namespace: $0.namespace) }
        #expect(releases == ["CentOS Linux:8", "CentOS Stream:9", "CentOS Linux:7"])
        #expect(releases.map { $0.flatMap(OSLifecycle.endOfSupport(of:)) } == ["2021-12-31", "2027-05-31", "2024-06-30"])
        #expect(OSLifecycle.warning(for: "CentOS Linux:8", now: day)?.hasPrefix("CentOS Linux:8 reached its end of support on 2021-12-31") == true)
        #expect(OSLifecycle.release(id: "rocky", prettyName: "Rocky Linux 9.3 (Blue Onyx)", namespace: "Rocky Linux:9") == "Rocky Linux:9")
        // Every day in the table is read: flagged from that day, not the day before.
        #expect(OSLifecycle.releases.count > 60)
        for release in OSLifecycle.releases {
            let day = try #require(OSLifecycle.endOfSupport(of: release))
            let end = try #require(formatter.date(from: "\(day)T00:00:00Z"))
            #expect(OSLifecycle.warning(for: release, now: end) != nil, "\(release)")
            #expect(OSLifecycle.warning(for: release, now: end.addingTimeInterval(-1)) == nil, "\(release)")
        }
        #expect(OSLifecycle.warning(for: "SUSE:15.5", now: day)?.contains("2024-12-31") == true)
        #expect(OSLifecycle.warning(for: "openSUSE:Leap 15.6", now: day)?.contains("2026-04-30") == true)
        #expect(OSLifecycle.warning(for: "Wolfi", now: day) == nil)
        #expect(OSLifecycle.warning(for: nil, now: day) == nil)
    }

    /// Fixed versions that cannot be ordered give no advice and say why, instead of a guess.
    @Test func unorderableFixesAreAProblemNotAGuess() async throws {
        func finding(_ fixed: String) -> Finding {
            Finding(
                id: "X-\(fixed)", aliases: [], ecosystem: "go", package: "example.com/m", sourcePackage: nil, installedVersion: "v1.0.0",
                fixedVersion: fixed, status: .fixed, severity: .high, severitySource: "test", cvss: [], layerIndex: 0, path: "app", source: "test",
                title: nil, references: [])
        }
        let ordered = try #require(Remediation.group([finding("1.2.0"), finding("v1.10.0"), finding("1.9.9")]).first)
        #expect(ordered.upgradeTo == "v1.10.0")
        let broken = try #require(Remediation.group([finding("1.2.0"), finding("1.x")]).first)
        #expect(broken.upgradeTo == nil)
        #expect(broken.problem?.contains("1.x") == true)
        #expect(broken.problem?.contains("example.com/m") == true)
    }
}

/// Debian 12: the bookworm minbase status against the feed derived from bookworm-security, and
/// every finding's versions checked with `dpkg --compare-versions`.
@Suite(.timeLimit(.minutes(3))) struct DebianFeedTests {
    static func derivedIndex() async throws -> AdvisoryIndex {
        let contents = try await FeedReader.read(RealFeedTests.advisory("osv-debian12-derived/osv-debian12-derived.tar.gz"))
        let records = contents.records
        #expect(contents.warnings.isEmpty)
        #expect(records.count == 6834)
        var index = AdvisoryIndex()
        index.add(records, source: "osv-debian12-derived")
        return index
    }

    @Test func minbaseMatchesExactlyTheExpectedFindings() async throws {
        let index = try await Self.derivedIndex()
        let status = try RealFeedTests.bytes(Fixtures.root.appendingPathComponent("pkgdb/dpkg/bookworm-minbase/var/lib/dpkg/status").path)
        let packages = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: status).packages
        #expect(packages.count == 88)
        var got: [String] = []
        for package in packages {
            for match in index.match(package, osNamespace: "Debian:12") {
                got.append("\(match.record.id) \(package.name) \(package.version) \(match.fixedVersion ?? "-")")
            }
        }
        let truth = try Fixtures.json(RealFeedTests.advisory("osv-debian12-derived/minbase-expected-matches.json")) as! [String: Any]
        let expected = (truth["matches"] as! [[String: Any]]).map { "\($0["advisory"]!) \($0["package"]!) \($0["version"]!) \($0["fixed"]!)" }
        #expect(got.sorted() == expected.sorted())
        #expect(got.count == truth["count"] as? Int)

        // The oracle: dpkg itself says each installed source version is below its fix.
        let script = #"while read -r installed fixed; do dpkg --compare-versions "$installed" lt "$fixed" && echo yes || echo no; done"#
        let pairs = packages.flatMap { package in
            index.match(package, osNamespace: "Debian:12").map { "\(package.source?.version ?? package.version) \($0.fixedVersion ?? "")" }
        }
        let verdicts = try await Tool.run(["bash", "-c", script], input: Data((pairs.joined(separator: "\n") + "\n").utf8)).text
        #expect(verdicts.split(separator: "\n").allSatisfy { $0 == "yes" })
    }

    /// The same packages at the versions bookworm-security ships (from the feed's manifest of
    /// the real indexes) report none of those advisories: no false positives after upgrading.
    @Test func upgradedPackagesReportNone() async throws {
        let index = try await Self.derivedIndex()
        let manifest = try Fixtures.json(RealFeedTests.advisory("osv-debian12-derived/manifest.json")) as! [String: Any]
        var securityVersions: [String: String] = [:]
        for source in manifest["sources"] as! [[String: Any]] {
            securityVersions[source["source"] as! String] = source["bookworm_security_version"] as? String
        }
        let status = try RealFeedTests.bytes(Fixtures.root.appendingPathComponent("pkgdb/dpkg/bookworm-minbase/var/lib/dpkg/status").path)
        let packages = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: status).packages
        let vulnerable = Set(packages.filter { !index.match($0, osNamespace: "Debian:12").isEmpty }.map(\.name))
        var upgraded = Set<String>()
        for var package in packages {
            guard let sourceName = package.source?.name, let security = securityVersions[sourceName] else { continue }
            package.source?.version = security
            upgraded.insert(package.name)
            #expect(index.match(package, osNamespace: "Debian:12").isEmpty, "\(package.name) from \(sourceName) \(security)")
        }
        // Every package that had findings was upgraded (and now has none).
        #expect(!vulnerable.isEmpty && vulnerable.isSubset(of: upgraded))
    }

    @Test func debianTrackerDocuments() async throws {
        let tracker = """
            {"openssl": {"CVE-2024-0001": {"description": "example", "releases": {
                "bookworm": {"status": "resolved", "fixed_version": "3.0.13-1~deb12u1", "urgency": "medium"},
                "bullseye": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"},
                "trixie": {"status": "resolved", "fixed_version": "0", "urgency": "not yet assigned"}}}},
             "zlib": {"CVE-2024-0002": {"releases": {"bookworm": {"status": "undetermined", "urgency": "unimportant"}}}}}
            """
        let records = try FeedReader.parseDocument(Array(tracker.utf8), name: "tracker.json")
        #expect(records.map(\.id) == ["DEBIAN-CVE-2024-0001-openssl-bookworm", "DEBIAN-CVE-2024-0001-openssl-bullseye", "DEBIAN-CVE-2024-0002-zlib-bookworm"])
        var index = AdvisoryIndex()
        index.add(records, source: "debian-tracker")
        let old = Package(ecosystem: "deb", name: "libssl3", version: "3.0.11-1~deb12u2", source: .init(name: "openssl", version: "3.0.11-1~deb12u2"), path: "s")
        let matches = index.match(old, osNamespace: "Debian:12")
        #expect(matches.map(\.fixedVersion) == ["3.0.13-1~deb12u1"])
        let patched = Package(ecosystem: "deb", name: "libssl3", version: "3.0.13-1~deb12u1", source: .init(name: "openssl", version: "3.0.13-1~deb12u1"), path: "s")
        #expect(index.match(patched, osNamespace: "Debian:12").isEmpty)
        // Open and ignored on bullseye: affected, no fix, will not be fixed.
        let bullseye = Package(ecosystem: "deb", name: "libssl1.1", version: "1.1.1w-0+deb11u1", source: .init(name: "openssl", version: nil), path: "s")
        let entries = ImageMatcher.findings([InventoryEntry(package: bullseye, layer: 0)], osNamespace: "Debian:11", index: index)
        #expect(entries.map(\.status) == [.willNotFix])
        #expect(entries.first?.vendorStatus == "no-dsa: ignored")
        #expect(entries.first?.fixedVersion == nil)
        // Undetermined and unimportant: under investigation, and left out unless asked for.
        let zlib = Package(ecosystem: "deb", name: "zlib1g", version: "1:1.2.13.dfsg-1", source: .init(name: "zlib", version: "1:1.2.13.dfsg-1"), path: "s")
        let unimportant = ImageMatcher.findings([InventoryEntry(package: zlib, layer: 0)], osNamespace: "Debian:12", index: index)
        #expect(unimportant.map(\.status) == [.underInvestigation])
        #expect(unimportant.first?.unimportant == true)
        var policy = ScanPolicy()
        #expect(policy.apply(unimportant, purl: { _ in nil }, image: nil).filtered.unimportant == 1)
        policy.includeUnimportant = true
        #expect(policy.apply(unimportant, purl: { _ in nil }, image: nil).kept.count == 1)
    }

    /// Every status the tracker words, as fathom names it (and `--ignore-status` leaves it out).
    @Test func debianTrackerStatuses() throws {
        let tracker = """
            {"src": {
              "CVE-2024-1": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"}}},
              "CVE-2024-2": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""}}},
              "CVE-2024-3": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Not supported", "nodsa_reason": "ignored"}}},
              "CVE-2024-4": {"releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}},
              "CVE-2024-5": {"releases": {"bookworm": {"status": "undetermined", "urgency": "not yet assigned"}}},
              "CVE-2024-6": {"releases": {"bookworm": {"status": "open", "urgency": "medium"}}},
              "CVE-2024-7": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.1-1", "urgency": "medium"}}}}}
            """
        var index = AdvisoryIndex()
        index.add(try FeedReader.parseDocument(Array(tracker.utf8), name: "tracker.json"), source: "debian-tracker")
        let package = Package(ecosystem: "deb", name: "libsrc1", version: "1.0-1", source: .init(name: "src", version: "1.0-1"), path: "s")
        let findings = ImageMatcher.findings([InventoryEntry(package: package, layer: 0)], osNamespace: "Debian:12", index: index)
        let byCVE = Dictionary(uniqueKeysWithValues: findings.map { ($0.id, "\($0.status.rawValue) \($0.vendorStatus ?? "-")") })
        #expect(byCVE == [
            "CVE-2024-1": "fix_deferred no-dsa: postponed", "CVE-2024-2": "fix_deferred no-dsa", "CVE-2024-3": "will_not_fix no-dsa: ignored",
            "CVE-2024-4": "end_of_life end-of-life", "CVE-2024-5": "under_investigation undetermined", "CVE-2024-6": "affected open",
            "CVE-2024-7": "fixed -",
        ])
        var policy = ScanPolicy()
        policy.ignoreStatuses = try Finding.Status.list("will_not_fix, end-of-life,fix_deferred")
        let outcome = policy.apply(findings, purl: { _ in nil }, image: nil)
        #expect(outcome.kept.map(\.status).sorted { $0.rawValue < $1.rawValue } == [.affected, .fixed, .underInvestigation])
        #expect(outcome.filtered.byStatus == ["fix_deferred": 2, "will_not_fix": 1, "end_of_life": 1])
        #expect(outcome.filtered.warning?.contains("2 fix_deferred") == true)
        #expect(throws: FathomError.self) { try Finding.Status.list("wontfix") }
    }
}

/// The store's on-demand advisories give exactly the findings of the whole index built in
/// memory, for real packages of every kind the feeds cover.
@Suite(.timeLimit(.minutes(3))) struct StoredAdvisoriesTests {
    @Test func onDemandLookupMatchesTheFullIndex() async throws {
        let store = try await SQLiteStore.open(path: try Fixtures.temporaryDirectory("stored-advisories") + "/fathom.db")
        // The reference: every record of the feeds, indexed in memory without the store.
        var full = AdvisoryIndex()
        for (file, source) in [
            ("osv-debian12-derived/osv-debian12-derived.tar.gz", "osv-debian12-derived"), ("osv-pypi.tar.gz", "osv-pypi"),
            ("alpine-secdb/v3.7/main.yaml", "alpine-secdb-v3.7-main"),
        ] {
            let records = try await FeedReader.read(RealFeedTests.advisory(file)).records
            _ = try await store.importAdvisories(records, source: source)
            full.add(records, source: source)
        }
        let stored = try await store.storedAdvisories()
        #expect(stored.recordCount == full.recordCount)
        let status = try RealFeedTests.bytes(Fixtures.root.appendingPathComponent("pkgdb/dpkg/bookworm-minbase/var/lib/dpkg/status").path)
        var cases = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: status).packages.map { ($0, "Debian:12") }
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.truth.json")) as! [String: Any]
        for entry in truth["packages"] as! [[String: Any]] {
            let origin = Package.Source(name: entry["origin"] as! String, version: nil)
            cases.append(
                (Package(ecosystem: "apk", name: entry["name"] as! String, version: entry["version"] as! String, source: origin,
                    path: "lib/apk/db/installed"), "Alpine:v3.7"))
        }
        for (name, version) in [("requests", "2.19.1"), ("Django", "1.11.0"), ("jinja2", "2.10"), ("PyYAML", "3.12"), ("urllib3", "1.23")] {
            cases.append((Package(ecosystem: "pypi", name: name, version: version, path: "site-packages"), "Debian:12"))
        }
        for namespace in Set(cases.map(\.1)) {
            try await stored.prepare(cases.filter { $0.1 == namespace }.map(\.0), osNamespace: namespace)
        }
        var total = 0
        for (package, namespace) in cases {
            let expected = full.match(package, osNamespace: namespace).map { "\($0.source) \($0.record.id) \($0.fixedVersion ?? "-")" }
            let got = stored.match(package, osNamespace: namespace).map { "\($0.source) \($0.record.id) \($0.fixedVersion ?? "-")" }
            #expect(got.sorted() == expected.sorted(), "\(package.name) \(package.version)")
            total += expected.count
        }
        #expect(total > 50)
        #expect(stored.warnings.isEmpty)
    }
}
