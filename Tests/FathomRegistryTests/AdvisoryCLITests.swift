import FathomCore
import FathomOCI
import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// `fathom db import|stats` and `fathom scan` with advisories, filters, ignore files and VEX,
/// as a user runs them against the real registry.
@Suite(.serialized, .timeLimit(.minutes(3))) struct AdvisoryCLITests {
    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }

    func fathom(_ arguments: [String], directory: String? = nil) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false, directory: directory)
    }

    static func secdb(_ version: String) -> String {
        Fixtures.root.appendingPathComponent("advisories/alpine-secdb/\(version)/main.yaml").path
    }

    func scanJSON(_ extra: [String], store: String, directory: String? = nil) async throws -> (ProcessOutput, [String: Any]) {
        let output = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--format", "json", "--store", store] + extra, directory: directory)
        let document = (try? JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]) ?? [:]
        return (output, document)
    }

    /// A document in the shape of NVD's CVE API 2.0 feed files, written here because the real
    /// NVD records in the data (`advisories/real/nvd`) are single CVEs, not feed files: CVE-2019-14697 (musl, in the secdb's v3.7 list)
    /// with an NVD (Primary) v3.1 and v2 score and a CNA (Secondary) v4.0 one; a rejected CVE;
    /// and CVE-2016-8859 with a stated score its vector does not give. Gzip'd as NVD serves it.
    static func nvdFeedFile(in directory: String) async throws -> String {
        func metric(_ type: String, _ version: String, _ vector: String, _ score: Double) -> [String: Any] {
            ["source": type == "Primary" ? "nvd@nist.gov" : "cve@mitre.org", "type": type,
             "cvssData": ["version": version, "vectorString": vector, "baseScore": score]]
        }
        func cve(_ id: String, status: String, _ metrics: [String: [[String: Any]]]) -> [String: Any] {
            ["cve": ["id": id, "sourceIdentifier": "cve@mitre.org", "vulnStatus": status, "metrics": metrics,
                     "descriptions": [["lang": "en", "value": "…"]]]]
        }
        let document: [String: Any] = [
            "resultsPerPage": 3, "startIndex": 0, "totalResults": 3, "format": "NVD_CVE", "version": "2.0",
            "timestamp": "2026-11-28T03:00:00.000",
            "vulnerabilities": [
                cve("CVE-2019-14697", status: "Modified", [
                    "cvssMetricV40": [metric("Secondary", "4.0", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3)],
                    "cvssMetricV31": [metric("Primary", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)],
                    "cvssMetricV2": [metric("Primary", "2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5)],
                ]),
                cve("CVE-2019-0001", status: "Rejected", [
                    "cvssMetricV31": [metric("Primary", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)]
                ]),
                cve("CVE-2016-8859", status: "Analyzed", [
                    "cvssMetricV31": [metric("Primary", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.9)]
                ]),
            ],
        ]
        let path = directory + "/nvdcve-2.0-2019.json"
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        try await Tool.run(["gzip", "-f", path])
        return path + ".gz"
    }

    /// The issue's first complaint: the secdb rates nothing, so `--severity HIGH,CRITICAL
    /// --exit-code 1` passed an image with a known vulnerability. With NVD's scores imported as a
    /// severity source, the finding ranks by them, says where its severity came from, lists
    /// every score, and the same gate now fails the image.
    @Test func nvdScoresRankFindingsTheirOwnFeedDoesNotRate() async throws {
        let directory = try Fixtures.temporaryDirectory("nvd")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        let gate = ["--severity", "HIGH,CRITICAL", "--exit-code", "1"]
        let (unrated, _) = try await scanJSON(gate, store: store)
        #expect(unrated.status == 0)

        let nvd = try await Self.nvdFeedFile(in: directory)
        let imported = try await fathom(["db", "import", "--store", store, nvd])
        #expect(imported.status == 0, "\(imported.errorText)")
        #expect(imported.text.contains("nvdcve-2.0-2019: CVSS scores of 2 vulnerabilities imported"))
        #expect(imported.errorText.contains("CVE-2016-8859 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H: NVD states 9.9, the vector gives 9.8"))
        let stats = try await fathom(["db", "stats", "--store", store])
        #expect(stats.text.contains("nvdcve-2.0-2019"))
        // NVD's retired 1.1 feeds are named as such, not as "not a feed".
        try #"{"CVE_data_type": "CVE", "CVE_data_format": "MITRE", "CVE_data_version": "4.0", "CVE_Items": []}"#.write(
            toFile: directory + "/nvdcve-1.1-2019.json", atomically: true, encoding: .utf8)
        let retired = try await fathom(["db", "import", "--store", store, directory + "/nvdcve-1.1-2019.json"])
        #expect(retired.status == 1)
        #expect(retired.errorText.contains("1.1 JSON feeds were retired"))

        let (output, document) = try await scanJSON([], store: store)
        #expect(output.status == 0, "\(output.errorText)")
        func isMuslCVE(_ finding: [String: Any]) -> Bool { finding["id"] as? String == "CVE-2019-14697" }
        let musl = try #require((document["vulnerabilities"] as? [[String: Any]])?.first(where: isMuslCVE))
        #expect(musl["severity"] as? String == "CRITICAL")
        #expect(musl["severitySource"] as? String == "nvd")
        let scores = (musl["cvss"] as? [[String: Any]] ?? []).map { "\($0["source"]!) \($0["type"] ?? "-") \($0["version"]!) \($0["score"]!)" }
        #expect(scores == ["nvd Secondary 4.0 9.3", "nvd Primary 3.1 9.8", "nvd Primary 2.0 7.5"])
        // Findings no source rates stay UNKNOWN, and say nothing about a source.
        for finding in document["vulnerabilities"] as? [[String: Any]] ?? [] where !isMuslCVE(finding) {
            #expect(finding["severity"] as? String == "UNKNOWN" && finding["severitySource"] == nil)
        }
        let (gated, _) = try await scanJSON(gate, store: store)
        #expect(gated.status == 1)
    }

    /// Real NVD records, one CVE object per file as fkie-cad/nvd-json-data-feeds keeps them
    /// (`advisories/real/nvd`): each is read as scores. They were refused as "not NVD", or read
    /// as OSV records (those with an `affected` key), so the musl CVE stayed UNKNOWN and a
    /// CRITICAL gate passed; two failed on a CISA SSVC metric, which holds no CVSS data.
    @Test func realSingleCVENVDRecordsAreReadAsScores() async throws {
        let directory = try Fixtures.temporaryDirectory("nvd-real")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        let nvd = Fixtures.root.appendingPathComponent("advisories/real/nvd").path
        let imported = try await fathom(["db", "import", "--store", store, nvd])
        #expect(imported.status == 0, "\(imported.errorText)")
        // 19 records: CVE-2023-42363 has no metrics yet; every other one has a score.
        #expect(imported.text.contains("nvd: CVSS scores of 18 vulnerabilities imported\n"), "\(imported.text)")
        #expect(!imported.errorText.contains("warning"), "\(imported.errorText)")
        #expect(imported.errorText.contains("CVE-2023-42363.json: holds no CVSS score"), "\(imported.errorText)")
        let stats = try await fathom(["db", "stats", "--store", store])
        #expect(!stats.text.contains("CVE-2019-14697"), "no record of it is an advisory: \(stats.text)")
        let (output, document) = try await scanJSON(["--severity", "CRITICAL", "--exit-code", "1"], store: store)
        #expect(output.status == 1, "\(output.errorText)")
        let musl = (document["vulnerabilities"] as? [[String: Any]])?.first { $0["id"] as? String == "CVE-2019-14697" }
        #expect(musl?["severity"] as? String == "CRITICAL" && musl?["severitySource"] as? String == "nvd", "\(musl ?? [:])")
    }

    /// A few hundred bytes of YAML whose aliases stand for 387 million nodes ("billion laughs")
    /// are refused in bounded time, naming the file, instead of growing for ever; a real feed
    /// of the same kind still imports.
    @Test func aYAMLAliasBombIsRefusedNotExpanded() async throws {
        let directory = try Fixtures.temporaryDirectory("yaml-bomb")
        var lines = [#"a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#]
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]")
        }
        let bomb = directory + "/bomb.yaml"
        try (lines.joined(separator: "\n") + "\n").write(toFile: bomb, atomically: true, encoding: .utf8)
        // Bounded by the node limit, not by a clock: the suite's time limit guards against a hang.
        let output = try await fathom(["db", "import", "--store", directory + "/fathom.db", bomb])
        #expect(output.status == 1)
        #expect(output.errorText.contains("bomb.yaml") && output.errorText.contains("expands to more than 5000000 nodes"), "\(output.errorText)")
        #expect(try await fathom(["db", "import", "--store", directory + "/fathom.db", Self.secdb("v3.7")]).status == 0)
    }

    /// Real upstream files that list nothing import (with a note); a malformed document among
    /// good ones is counted and named while the rest imports; a file that is no feed says so in
    /// plain words, without Foundation's error domains or the file's bytes.
    @Test func emptyMalformedAndForeignFilesAreReportedPlainly() async throws {
        let directory = try Fixtures.temporaryDirectory("feed-files")
        let store = directory + "/fathom.db"
        let empty = try await fathom(["db", "import", "--store", store, Self.secdb("v3.3").replacingOccurrences(of: "main.yaml", with: "community.yaml")])
        #expect(empty.status == 0, "\(empty.errorText)")
        #expect(empty.text.contains("alpine-secdb-v3.3-community: 0 advisories imported"))
        #expect(empty.errorText.contains("note:") && empty.errorText.contains("holds no advisory that affects a package"))

        let feed = directory + "/feed"
        try FileManager.default.createDirectory(atPath: feed, withIntermediateDirectories: true)
        for name in ["PYSEC-2018-28.yaml", "PYSEC-2019-132.yaml"] {
            try FileManager.default.copyItem(
                atPath: Fixtures.root.appendingPathComponent("advisories/osv-pypi-sample/\(name)").path, toPath: feed + "/" + name)
        }
        try #"{"id": "PYSEC-X", "affected": "#.write(toFile: feed + "/broken.json", atomically: true, encoding: .utf8)
        try "\n".write(toFile: feed + "/blank.json", atomically: true, encoding: .utf8)
        let partial = try await fathom(["db", "import", "--store", store, feed])
        #expect(partial.status == 0, "\(partial.errorText)")
        #expect(partial.text.contains("feed: 2 advisories imported (1 document could not be read)"))
        #expect(partial.errorText.contains("broken.json: invalid input: not valid JSON"))
        #expect(partial.errorText.contains("blank.json: empty file"))

        let binary = directory + "/advisories.json"
        try Data(try Data(contentsOf: URL(fileURLWithPath: "/bin/ls")).prefix(4096)).write(to: URL(fileURLWithPath: binary))
        let foreign = try await fathom(["db", "import", "--store", store, binary])
        #expect(foreign.status == 1)
        #expect(foreign.errorText.contains("not valid JSON"))
        #expect(foreign.errorText.contains("not an advisory feed"))
        #expect(!foreign.errorText.contains("NSCocoaErrorDomain"))
        #expect(foreign.stderr.allSatisfy { $0 == 0x0A || ($0 >= 0x20 && $0 != 0x7F) || $0 >= 0x80 })
        #expect(!foreign.errorText.contains("ELF"))
    }

    @Test func importIsIdempotentAndAFailedImportKeepsThePreviousSet() async throws {
        let store = try Fixtures.temporaryDirectory("store") + "/fathom.db"
        let first = try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")])
        #expect(first.status == 0, "\(first.errorText)")
        #expect(first.text.contains("alpine-secdb-v3.7-main: 1073 advisories imported"))
        let again = try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")])
        #expect(again.text.contains("1073 advisories unchanged"))
        let broken = try Fixtures.temporaryDirectory("broken") + "/main.yaml"
        try "distroversion: v3.7\npackages: [ {pkg: {name: musl, secfixes: {\"1.1.18-r4\": [CVE-1]}}}\n".write(
            toFile: broken, atomically: true, encoding: .utf8)
        let failed = try await fathom(["db", "import", "--store", store, "--source", "alpine-secdb-v3.7-main", broken])
        #expect(failed.status == 1)
        #expect(failed.errorText.contains("main.yaml"))
        let stats = try await fathom(["db", "stats", "--store", store])
        #expect(stats.text.contains("alpine-secdb-v3.7-main          1073"))
        #expect(stats.text.contains("Alpine:v3.7                     1073"))

        // Several paths under one --source are one feed: imported one by one under the name,
        // each replaced the one before (community's advisories left, main's gone).
        let community = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/community.yaml").path
        let alone = try await fathom(["db", "import", "--store", store, community])
        let communityCount = try #require(alone.text.split(separator: " ").dropFirst().first.flatMap { Int($0) }, "\(alone.text)")
        let joined = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", Self.secdb("v3.7"), community])
        #expect(joined.status == 0 && joined.text == "secdb-v3.7: \(1073 + communityCount) advisories imported\n", "\(joined.text)\(joined.errorText)")
        // A path that cannot be read leaves the feed as it was: part of it would replace all of it.
        let partial = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", Self.secdb("v3.7"), community + ".missing"])
        #expect(partial.status == 1 && partial.errorText.contains("community.yaml.missing"), "\(partial.errorText)")
        let after = try await fathom(["db", "stats", "--store", store])
        #expect(after.text.contains("secdb-v3.7                      \(1073 + communityCount)"), "\(after.text)")

        // Another feed whose path gives the same name replaces it whole: said, loudly when
        // records were lost, with the way to keep both.
        let smaller = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", community])
        #expect(smaller.status == 0)
        #expect(
            smaller.errorText.contains("warning: 'secdb-v3.7' replaced the feed of that name imported")
                && smaller.errorText.contains("(\(1073 + communityCount) records) with fewer records (\(communityCount)); if this is another feed")
                && smaller.errorText.contains("import it with --source OTHER-NAME to keep both"),
            "\(smaller.errorText)")
        let larger = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", Self.secdb("v3.7"), community])
        #expect(larger.errorText.contains("note: 'secdb-v3.7' replaced the feed of that name imported") && !larger.errorText.contains("warning"), "\(larger.errorText)")
        let unchanged = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", Self.secdb("v3.7"), community])
        #expect(unchanged.errorText.isEmpty, "\(unchanged.errorText)")

        // A name reused for data of another kind (CISA's catalog under the advisories' name)
        // takes their advisories: a warning, not a note about a larger count.
        let kev = Fixtures.root.appendingPathComponent("advisories/real/kev/known_exploited_vulnerabilities.json").path
        let other = try await fathom(["db", "import", "--store", store, "--source", "secdb-v3.7", kev])
        #expect(other.errorText.contains("warning: 'secdb-v3.7' replaced the feed of that name imported")
            && other.errorText.contains("advisories are gone, as this import holds none (exploitation data of 1404 vulnerabilities)"), "\(other.errorText)")

        // A newer copy of a secdb file from another folder is the same feed, named as db update
        // names it: the CVE it no longer lists leaves (it stayed beside the newer copy).
        let dated = try Fixtures.temporaryDirectory("secdb-copies")
        let lines = try String(contentsOfFile: Self.secdb("v3.7"), encoding: .utf8)
        let newer = lines.replacingOccurrences(of: "        1.1.18-r4:\n          - CVE-2019-14697\n", with: "")
        #expect(newer != lines)
        for (folder, text) in [("2026-06", lines), ("2026-12", newer)] {
            try FileManager.default.createDirectory(atPath: "\(dated)/\(folder)/v3.7", withIntermediateDirectories: true)
            try text.write(toFile: "\(dated)/\(folder)/v3.7/main.yaml", atomically: true, encoding: .utf8)
        }
        let copies = dated + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", copies, "\(dated)/2026-06/v3.7/main.yaml"]).text.contains("alpine-secdb-v3.7-main: 1073 advisories imported"))
        let later = try await fathom(["db", "import", "--store", copies, "\(dated)/2026-12/v3.7/main.yaml"])
        #expect(later.text.contains("alpine-secdb-v3.7-main: 1072 advisories imported"), "\(later.text)")
        let feeds = try await fathom(["db", "status", "--store", copies])
        #expect(feeds.text.components(separatedBy: "alpine-secdb-v3.7-main").count == 2 && !feeds.text.contains("2026-06-v3.7") && !feeds.text.contains("2026-12-v3.7"), "\(feeds.text)")
        // A release folder (or a folder of them) is its files, named the same: as one feed
        // named `v3.7` it stood beside the file imported later, its withdrawn CVE still firing.
        let folder = try await fathom(["db", "import", "--store", copies, "\(dated)/2026-06/v3.7"])
        #expect(folder.text.contains("alpine-secdb-v3.7-main: 1073 advisories imported") && !folder.text.contains("v3.7: "), "\(folder.text)")
        // A clone's hidden .git beside the release folders changes nothing.
        try FileManager.default.createDirectory(atPath: "\(dated)/2026-12/.git/objects", withIntermediateDirectories: true)
        let releases = try await fathom(["db", "import", "--store", copies, "\(dated)/2026-12"])
        #expect(releases.text.contains("alpine-secdb-v3.7-main: 1072 advisories imported"), "\(releases.text)")
        let status = try await fathom(["db", "status", "--store", copies])
        #expect(status.text.components(separatedBy: "alpine-secdb-v3.7-main").count == 2 && !status.text.contains("\nv3.7 ") && !status.text.contains("2026-12 "), "\(status.text)")
    }

    /// A feed whose advisories name no package fathom matches (Red Hat's CSAF of telnet for
    /// RHEL 7.6's AUS, E4S and TUS tracks) is imported for its ratings, and said to cover nothing.
    @Test func advisoriesThatNameNoMatchablePackageAreSaid() async throws {
        let store = try Fixtures.temporaryDirectory("inert") + "/fathom.db"
        let csaf = Fixtures.root.appendingPathComponent("advisories/real/redhat/csaf-advisories").path
        let inert = try await fathom(["db", "import", "--store", store, csaf])
        #expect(inert.status == 0 && inert.text == "csaf-advisories: 1 advisory imported\n", "\(inert.text)")
        #expect(inert.errorText.contains("warning: csaf-advisories: its one advisory names no package of a release fathom matches"), "\(inert.errorText)")
        let rocky = Fixtures.root.appendingPathComponent("advisories/real/rocky-csaf/advisories").path
        let matched = try await fathom(["db", "import", "--store", store, rocky])
        #expect(matched.status == 0 && !matched.errorText.contains("names a package") && !matched.errorText.contains("name no package"), "\(matched.errorText)")
    }

    /// `db stats` keeps a long ecosystem name apart from its count (it was cut to 32 columns).
    @Test func statsColumnsFitTheLongestName() async throws {
        let store = try Fixtures.temporaryDirectory("stats") + "/fathom.db"
        let ubuntu = Fixtures.root.appendingPathComponent("advisories/real/ubuntu-osv").path
        #expect(try await fathom(["db", "import", "--store", store, ubuntu]).status == 0)
        let stats = try await fathom(["db", "stats", "--store", store])
        #expect(stats.text.contains("\nUbuntu:Pro:FIPS-preview:22.04:LTS  1\n"), "\(stats.text)")
    }

    /// An OS release that was read but that fathom has no advisories for (Oracle Linux: ID
    /// `ol`) is named as such, not as "not identified", and its packages are a gap.
    @Test func anIdentifiedOSWithoutAdvisoriesIsNamed() async throws {
        let directory = try Fixtures.temporaryDirectory("oracle")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        try FileManager.default.createDirectory(atPath: directory + "/root/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/root/var/lib/rpm", withIntermediateDirectories: true)
        try "NAME=\"Oracle Linux Server\"\nVERSION=\"9.3\"\nID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Oracle Linux Server 9.3\"\n"
            .write(toFile: directory + "/root/etc/os-release", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: Fixtures.root.appendingPathComponent("pkgdb/rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite").path,
            toPath: directory + "/root/var/lib/rpm/rpmdb.sqlite")
        let scan = try await fathom(["scan", "rootfs:\(directory)/root", "--store", store, "--format", "json"])
        #expect(scan.status == 0)
        #expect(
            scan.errorText.contains("Oracle Linux Server 9.3 (ID ol) was identified, but fathom has no advisories for this distribution or release: its ")
                && !scan.errorText.contains("not identified"),
            "\(scan.errorText)")
        // The gate's "no verdict" names it the same way.
        let gate = try await fathom(["scan", "rootfs:\(directory)/root", "--store", store, "--exit-code", "3"])
        #expect(gate.status == 1 && gate.errorText.contains("no verdict") && !gate.errorText.contains("not identified"), "\(gate.errorText)")
    }

    /// An image whose OS is known but whose package database a later layer whited out (or a
    /// build deleted) has no OS package to check: said, as Trivy says it, not a clean "0".
    @Test func anOSWithoutItsPackageDatabaseIsSaid() async throws {
        let directory = try Fixtures.temporaryDirectory("no-package-db")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        let minirootfs = Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")
        try await Tool.run(["gzip", "-dc", minirootfs]).stdout.write(to: URL(fileURLWithPath: directory + "/base.tar"))
        try FileManager.default.createDirectory(atPath: directory + "/upper/lib/apk/db", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: directory + "/upper/lib/apk/db/.wh.installed", contents: Data()))
        try await Tool.run(["tar", "-cf", directory + "/upper.tar", "-C", directory + "/upper", "lib"])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([
            ("hidden", [try await builder.addImage(layers: [(directory + "/base.tar", .gzip), (directory + "/upper.tar", .gzip)])]),
            ("whole", [try await builder.addImage(layers: [(directory + "/base.tar", .gzip)])]),
        ])
        let said = "Alpine:v3.7 was identified, but no package database fathom reads was found"
        let table = try await fathom(["scan", "oci:\(directory)/oci:hidden", "--store", store])
        #expect(table.status == 0 && table.text.contains("NOT CHECKED: \(said)"), "\(table.text)")
        let json = try await fathom(["scan", "oci:\(directory)/oci:hidden", "--store", store, "--format", "json"])
        #expect(json.errorText.contains(said), "\(json.errorText)")
        let document = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        #expect((document?["warnings"] as? [String])?.contains { $0.hasPrefix(said) } == true)
        // The coverage says it, for a script that reads it, and the gate gives no clean verdict:
        // hiding the database is no way past --exit-code.
        let coverage = document?["coverage"] as? [String: Any]
        #expect(coverage?["osReleaseWithoutPackages"] as? String == "Alpine:v3.7", "\(coverage ?? [:])")
        let gate = try await fathom(["scan", "oci:\(directory)/oci:hidden", "--store", store, "--exit-code", "3"])
        #expect(gate.status == 1 && gate.errorText.contains("no verdict") && gate.errorText.contains(said), "\(gate.status) \(gate.errorText)")
        // Nor is --skip-dirs leaving out every OS package.
        let skipped = try await fathom(["scan", "oci:\(directory)/oci:whole", "--store", store, "--exit-code", "3", "--skip-dirs", "lib/apk"])
        #expect(
            skipped.status == 1 && skipped.errorText.contains("no verdict") && skipped.errorText.contains("was identified, but no package database fathom reads was found"),
            "\(skipped.status) \(skipped.errorText)")
        // The same base with its database says nothing of the kind.
        let whole = try await fathom(["scan", "oci:\(directory)/oci:whole", "--store", store, "--format", "json"])
        #expect(whole.status == 0 && !whole.errorText.contains("no package database"), "\(whole.errorText)")

        // The fleet front door says it too: the summary's table, standard error beside its JSON
        // and HTML, and the HTML page itself (the dashboard's), one image of the two.
        let gap = "Alpine:v3.7: no package database found (1 image)"
        let fleet = try await fathom(["registry", "oci:\(directory)/oci", "--store", store])
        #expect(fleet.status == 0 && fleet.text.contains("Not checked\n  \(gap)"), "\(fleet.text)")
        let fleetJSON = try await fathom(["registry", "oci:\(directory)/oci", "--store", store, "--format", "json"])
        #expect(fleetJSON.errorText.contains("not checked: \(gap)"), "\(fleetJSON.errorText)")
        let summary = try JSONSerialization.jsonObject(with: fleetJSON.stdout) as? [String: Any]
        #expect(summary?["missingData"] as? [String: Int] == ["Alpine:v3.7: no package database found": 1], "\(summary ?? [:])")
        let fleetHTML = try await fathom(["registry", "oci:\(directory)/oci", "--store", store, "--format", "html", "--quiet"])
        #expect(fleetHTML.text.contains("<h2>Not checked</h2><ul><li>\(gap)</li>") && fleetHTML.errorText.isEmpty, "\(fleetHTML.errorText)")
        // rescan counts it as registry does, from the stored inventory, and gives no clean verdict.
        let rescan = try await fathom(["rescan", "--store", store, "--offline", "--exit-code", "3"])
        // (3: the whole image keeps findings, which the gate's code says before a no verdict.)
        #expect(rescan.status == 3 && rescan.text.contains(gap) && rescan.text.contains("no verdict"), "\(rescan.status) \(rescan.text)")
    }

    /// An Alpine 3.10 image against a store holding only Alpine 3.7 data: the report says its
    /// packages were not checked, and `--exit-code` refuses to call it clean unless asked to.
    @Test func missingAdvisoryDataIsALoudGapNotACleanReport() async throws {
        let directory = try Fixtures.temporaryDirectory("coverage")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        let minirootfs = Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.10.9-x86_64.tar.gz")
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.10.9-x86_64.truth.json")) as! [String: Any]
        let packageCount = (truth["packages"] as! [Any]).count
        try await Tool.run(["gzip", "-dc", minirootfs]).stdout.write(to: URL(fileURLWithPath: directory + "/layer.tar"))
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("3.10", [try await builder.addImage(layers: [(directory + "/layer.tar", .gzip)])])])
        let image = "oci:\(directory)/oci:3.10"

        let json = try await fathom(["scan", image, "--store", store, "--format", "json"])
        #expect(json.status == 0, "\(json.errorText)")
        let document = try JSONSerialization.jsonObject(with: json.stdout) as! [String: Any]
        let coverage = try #require(document["coverage"] as? [String: Any])
        let gaps = coverage["gaps"] as! [[String: Any]]
        #expect(gaps.count == 1)
        #expect(gaps.first?["namespace"] as? String == "Alpine:v3.10")
        #expect(gaps.first?["packages"] as? Int == packageCount)
        #expect((coverage["checkedAgainst"] as? [String])?.isEmpty == true)
        let expected = "no advisories for Alpine:v3.10: its \(packageCount) OS packages were not checked"
        #expect((document["warnings"] as? [String])?.contains(expected) == true)

        let table = try await fathom(["scan", image, "--store", store])
        #expect(table.text.contains("NOT CHECKED: \(expected)"))
        #expect(!table.errorText.contains("not checked"), "the table says it once: \(table.errorText)")
        // Every other format carries it too, and says it on standard error: a SARIF run or an
        // SBOM with no vulnerabilities must not read as a clean image.
        #expect(json.errorText.contains("warning: \(image): not checked: \(expected)"), "\(json.errorText)")
        for format in ["sarif", "cyclonedx", "spdx", "harbor"] {
            let output = try await fathom(["scan", image, "--store", store, "--format", format])
            #expect(output.status == 0 && output.errorText.contains("not checked: \(expected)"), "\(format): \(output.errorText)")
            let document = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
            let carried: [String]
            switch format {
            case "sarif":
                let run = (document["runs"] as? [[String: Any]])?.first
                let notifications = (run?["invocations"] as? [[String: Any]])?.first?["toolExecutionNotifications"] as? [[String: Any]]
                carried = notifications?.compactMap { ($0["message"] as? [String: Any])?["text"] as? String } ?? []
            case "cyclonedx":
                let properties = (document["metadata"] as? [String: Any])?["properties"] as? [[String: String]]
                carried = properties?.filter { $0["name"] == "fathom:warning" }.compactMap { $0["value"] } ?? []
            case "spdx":
                carried = [((document["creationInfo"] as? [String: Any])?["comment"] as? String) ?? ""]
            default:
                continue  // Harbor's report has no place for it: standard error only (checked above).
            }
            #expect(carried.contains { $0.contains(expected) }, "\(format): \(carried)")
        }
        let quiet = try await fathom(["scan", image, "--store", store, "--format", "json", "--quiet"])
        #expect(!quiet.errorText.contains("not checked"), "\(quiet.errorText)")

        let verdict = try await fathom(["scan", image, "--store", store, "--exit-code", "3"])
        #expect(verdict.status == 1)
        #expect(verdict.errorText.contains("no verdict: \(expected)"))
        let allowed = try await fathom(["scan", image, "--store", store, "--exit-code", "3", "--allow-missing-data"])
        #expect(allowed.status == 0, "\(allowed.errorText)")
        let empty = try await fathom(["scan", image, "--store", directory + "/empty.db", "--exit-code", "3"])
        #expect(empty.status == 1)
        #expect(empty.errorText.contains("the store holds no advisories"))
        // With no advisory data at all, the JSON's warnings say so (it said only advisoriesLoaded: false).
        let emptyJSON = try await fathom(["scan", image, "--store", directory + "/empty.db", "--format", "json"])
        let emptyDocument = try JSONSerialization.jsonObject(with: emptyJSON.stdout) as? [String: Any]
        #expect((emptyDocument?["warnings"] as? [String])?.contains { $0.hasPrefix("the store holds no advisory data") } == true, "\(emptyJSON.text)")
        #expect(emptyJSON.errorText.contains("not checked: the store holds no advisory data"), "\(emptyJSON.errorText)")

        // A rescan of the stored scan says it as well: an unchanged image is not a checked one.
        let rescan = try await fathom(["rescan", "--store", store])
        #expect(rescan.text.contains("Not checked\n  no advisory data for Alpine:v3.10 (1 image)"), "\(rescan.text)")
        let rescanJSON = try await fathom(["rescan", "--store", store, "--format", "json"])
        #expect(rescanJSON.errorText.contains("not checked: no advisory data for Alpine:v3.10"), "\(rescanJSON.errorText)")
        #expect((try JSONSerialization.jsonObject(with: rescanJSON.stdout) as? [String: Any])?["missingData"] as? [String: Int] == ["Alpine:v3.10": 1])

        // With the data for its release, the same verdict is a real one: checked, nothing missing.
        let v310 = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.10/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", store, v310]).status == 0)
        let checked = try await fathom(["scan", image, "--store", store, "--format", "json", "--exit-code", "3"])
        let again = try JSONSerialization.jsonObject(with: checked.stdout) as! [String: Any]
        let coverageNow = try #require(again["coverage"] as? [String: Any])
        #expect((coverageNow["gaps"] as? [Any])?.isEmpty == true)
        #expect(coverageNow["checkedAgainst"] as? [String] == ["Alpine:v3.10"])
        let found = (again["vulnerabilities"] as? [Any])?.isEmpty == false
        #expect(checked.status == (found ? 3 : 0), "\(checked.errorText)")
    }

    @Test func scanReportsMuslWithItsFixAndHonoursFilters() async throws {
        let directory = try Fixtures.temporaryDirectory("scan-policy")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)

        let (plain, document) = try await scanJSON([], store: store)
        #expect(plain.status == 0, "\(plain.errorText)")
        let vulnerabilities = document["vulnerabilities"] as! [[String: Any]]
        let musl = vulnerabilities.filter { $0["package"] as? String == "musl" }
        #expect(musl.contains { $0["id"] as? String == "CVE-2019-14697" && $0["fixedVersion"] as? String == "1.1.18-r4" })
        #expect(musl.allSatisfy { $0["installedVersion"] as? String == "1.1.18-r3" && $0["status"] as? String == "fixed" })
        #expect(musl.allSatisfy { $0["layer"] as? String == layout.gzip.layerDigests[0] && $0["source"] as? String == "alpine-secdb-v3.7-main" })
        let summary = document["summary"] as! [String: Any]
        #expect(summary["total"] as? Int == vulnerabilities.count)
        let remediation = document["remediation"] as! [[String: Any]]
        #expect(remediation.contains { $0["package"] as? String == "musl" && $0["upgradeTo"] as? String == "1.1.18-r4" && $0["fromBaseLayer"] as? Bool == true })

        // Alpine 3.7 is past its end of support: the report says so.
        #expect((document["os"] as? [String: Any])?["endOfSupport"] as? String == "2019-11-01")
        #expect(((document["warnings"] as? [String]) ?? []).contains { $0.hasPrefix("Alpine:v3.7 reached its end of support on 2019-11-01") })

        // Fresh data gives no age warning; data older than --max-db-age does, in the report.
        #expect(!((document["warnings"] as? [String]) ?? []).contains { $0.contains("max-db-age") })
        let (_, aged) = try await scanJSON(["--max-db-age", "0s"], store: store)
        #expect(((aged["warnings"] as? [String]) ?? []).contains { $0.hasPrefix("advisory data older than --max-db-age 0s: 1 feed not updated since") })
        // The feed came from a file: newer files bring it up to date (a store with no network).
        #expect(((aged["warnings"] as? [String]) ?? []).contains { $0.hasSuffix("import newer copies with fathom db import (or run fathom db update)") })
        let (badAge, _) = try await scanJSON(["--max-db-age", "soon"], store: store)
        #expect(badAge.status == 64)  // a usage error
        #expect(badAge.errorText.contains("'soon' is neither a duration"))

        // --exit-code fires only when findings survive the filters.
        let (failing, _) = try await scanJSON(["--exit-code", "5"], store: store)
        #expect(failing.status == 5)
        let (filtered, none) = try await scanJSON(["--exit-code", "5", "--severity", "CRITICAL"], store: store)
        #expect(filtered.status == 0)  // secdb states no severity: everything is UNKNOWN
        #expect((none["vulnerabilities"] as! [Any]).isEmpty)
        // …and the report says what the filter left out, by severity, instead of going quiet.
        let all = vulnerabilities.count
        #expect(all > 0)
        #expect((none["warnings"] as? [String])?.contains("\(all) finding\(all == 1 ? "" : "s") left out by the filters: \(all) UNKNOWN") == true)

        // An ignore file in the working directory: pkg:musl covers musl-utils (source musl) too.
        try "# accepted until the base image moves\nCVE-2019-14697 pkg:musl exp:2099-12-31\n".write(
            toFile: directory + "/.fathomignore", atomically: true, encoding: .utf8)
        let (_, ignoredDocument) = try await scanJSON([], store: store, directory: directory)
        let kept = ignoredDocument["vulnerabilities"] as! [[String: Any]]
        #expect(!kept.contains { $0["id"] as? String == "CVE-2019-14697" })
        let ignored = ignoredDocument["suppressed"] as! [[String: Any]]
        #expect(Set(ignored.compactMap { $0["package"] as? String }) == ["musl", "musl-utils"])
        #expect(ignored.allSatisfy { $0["reason"] as? String == "ignore file" && $0["rule"] as? String == ".fathomignore:2" })
        // Trivy's .trivyignore there is read when fathom's is absent, and said.
        let trivyDirectory = try Fixtures.temporaryDirectory("trivyignore")
        try "CVE-2019-14697\n".write(toFile: trivyDirectory + "/.trivyignore", atomically: true, encoding: .utf8)
        let (trivyOutput, trivyDocument) = try await scanJSON([], store: store, directory: trivyDirectory)
        #expect(trivyOutput.errorText.contains("reading .trivyignore"), "\(trivyOutput.errorText)")
        let trivySuppressed = trivyDocument["suppressed"] as? [[String: Any]] ?? []
        #expect(trivySuppressed.count == 2 && trivySuppressed.allSatisfy { $0["rule"] as? String == ".trivyignore:1" }, "\(trivySuppressed)")
        // Beside fathom's own, it is not read, and that is said (it was silently passed over).
        try "CVE-2019-14697\n".write(toFile: directory + "/.trivyignore", atomically: true, encoding: .utf8)
        let (bothOutput, _) = try await scanJSON([], store: store, directory: directory)
        #expect(bothOutput.errorText.contains("warning: .trivyignore is not read: .fathomignore is"), "\(bothOutput.errorText)")
        try FileManager.default.removeItem(atPath: directory + "/.trivyignore")

        // VEX, as vexctl writes it: the image is the product and musl-utils its subcomponent.
        // The statement suppresses musl-utils' finding and never musl's (no substring match).
        func vexDocument(_ products: String) -> String {
            """
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "fathom tests",
             "timestamp": "2026-11-29T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "status": "not_affected",
                             "justification": "vulnerable_code_not_in_execute_path", "products": \(products)}]}
            """
        }
        func cve(_ document: [String: Any], _ key: String) -> Set<String> {
            Set((document[key] as? [[String: Any]] ?? []).filter {
                ($0["id"] as? String)?.hasSuffix("CVE-2019-14697") == true || $0["id"] as? String == "CVE-2019-14697"
            }.compactMap { $0["package"] as? String })
        }
        try "".write(toFile: directory + "/empty-ignore", atomically: true, encoding: .utf8)
        try vexDocument(#"[{"@id": "\#(registry.host)/alpine:3.7", "subcomponents": [{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]}]"#)
            .write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let (_, onlyUtils) = try await scanJSON(["--vex", directory + "/vex.json", "--ignore-file", directory + "/empty-ignore"], store: store)
        #expect(cve(onlyUtils, "vulnerabilities") == ["musl"])
        #expect(cve(onlyUtils, "suppressed") == ["musl-utils"])
        let vexSuppressed = onlyUtils["suppressed"] as! [[String: Any]]
        #expect(vexSuppressed.contains {
            $0["justification"] as? String == "vulnerable_code_not_in_execute_path" && $0["reason"] as? String == "vex: not_affected"
                && ($0["rule"] as? String)?.hasPrefix(directory + "/vex.json (OpenVEX) statement 1") == true
        })
        // A package product: musl-utils alone again, by purl.
        try vexDocument(#"[{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]"#).write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let (_, byPackage) = try await scanJSON(["--vex", directory + "/vex.json", "--ignore-file", directory + "/empty-ignore"], store: store)
        #expect(cve(byPackage, "vulnerabilities") == ["musl"])
        // The image as a pkg:oci purl with no subcomponents: every package of it.
        try vexDocument(#"[{"@id": "pkg:oci/alpine?repository_url=\#(registry.host)/alpine&tag=3.7"}]"#)
            .write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let (_, whole) = try await scanJSON(["--vex", directory + "/vex.json", "--ignore-file", directory + "/empty-ignore"], store: store)
        #expect(cve(whole, "vulnerabilities").isEmpty)
        #expect(cve(whole, "suppressed") == ["musl", "musl-utils"])
        // Another image's tag, and a statement naming no product: nothing, and a warning says why.
        try vexDocument(#"[{"@id": "\#(registry.host)/alpine:3.8"}]"#).write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let (_, other) = try await scanJSON(["--vex", directory + "/vex.json", "--ignore-file", directory + "/empty-ignore"], store: store)
        #expect(cve(other, "vulnerabilities") == ["musl", "musl-utils"])
        try vexDocument("[]").write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let (noProduct, none2) = try await scanJSON(["--vex", directory + "/vex.json", "--ignore-file", directory + "/empty-ignore"], store: store)
        #expect(cve(none2, "vulnerabilities") == ["musl", "musl-utils"])
        #expect(noProduct.errorText.contains("names no product: it applies to nothing"))

        // An expired rule no longer applies, and the report says why the finding is back.
        try "CVE-2019-14697 exp:2020-01-01\n".write(toFile: directory + "/.fathomignore", atomically: true, encoding: .utf8)
        let (_, expired) = try await scanJSON([], store: store, directory: directory)
        #expect((expired["vulnerabilities"] as! [[String: Any]]).contains { $0["id"] as? String == "CVE-2019-14697" })
        #expect(
            (expired["warnings"] as? [String] ?? []).contains(
                "ignore rule past its expiry no longer suppresses its finding: .fathomignore:1 (CVE-2019-14697, expired 2020-01-01)"),
            "\(expired["warnings"] ?? "")")
    }

    /// The policy is the engine's: `scan`, `registry -o DIR` and `rescan` take the same flags and
    /// give the same live and suppressed sets for the same image; `--exit-code` gates the fleet
    /// and names the images that fail it.
    @Test func registryAndRescanApplyTheSamePolicyAsScan() async throws {
        let directory = try Fixtures.temporaryDirectory("fleet-policy")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        // The second rule expired: a fleet's summary says it no longer applies.
        // The third names nothing in any image (a misspelt id): the fleet runs name it once.
        try "CVE-2018-1000001 pkg:musl\nCVE-2099-0001 exp:2020-01-01\nCVE-2099-1234\n".write(toFile: directory + "/ignore", atomically: true, encoding: .utf8)
        let expired = "ignore rule \(directory)/ignore:2 (CVE-2099-0001) expired on 2020-01-01 and no longer applies"
        try """
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/2", "author": "fathom tests",
             "timestamp": "2026-11-29T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "status": "not_affected", "justification": "inline_mitigations_already_exist",
                             "products": [{"@id": "\(registry.host)/alpine:3.7", "subcomponents": [{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]}]}]}
            """.write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)
        let policy = ["--ignore-file", directory + "/ignore", "--vex", directory + "/vex.json"]
        func sets(_ document: [String: Any]) -> (live: Set<String>, suppressed: Set<String>) {
            func keys(_ key: String) -> Set<String> {
                Set((document[key] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "") \($0["package"] ?? "")" })
            }
            return (keys("vulnerabilities"), keys("suppressed"))
        }
        let (scanned, scanDocument) = try await scanJSON(policy, store: store)
        #expect(scanned.status == 0, "\(scanned.errorText)")
        let fromScan = sets(scanDocument)
        #expect(!fromScan.live.isEmpty && fromScan.suppressed.count >= 1)
        #expect(fromScan.suppressed.contains { $0.hasSuffix(" musl-utils") } && fromScan.live.contains { $0.hasSuffix(" musl") })

        // registry -o DIR: the same report for the image, and --exit-code fails the run naming it.
        let reports = directory + "/reports"
        let fleet = try await fathom(
            ["registry", registry.host, "--repo", "alpine", "--tag", "3.7", "--store", store, "-o", reports, "-f", "json", "--quiet",
             "--exit-code", "3"] + policy)
        #expect(fleet.status == 3, "\(fleet.errorText)")
        let summary = try #require(try JSONSerialization.jsonObject(with: fleet.stdout) as? [String: Any])
        let failing = summary["policyFailures"] as? [[String: Any]] ?? []
        #expect(failing.map { $0["name"] as? String } == ["\(registry.host)/alpine:3.7"])
        let file = reports + "/" + "\(registry.host)/alpine:3.7".map { "/:@".contains($0) ? "_" : $0 }.reduce(into: "") { $0.append($1) } + ".json"
        let fromRegistry = sets(try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]))
        #expect(fromRegistry.live == fromScan.live)
        #expect(fromRegistry.suppressed == fromScan.suppressed)
        // The summary counts what the policy reports, not what matching found.
        let counted = (summary["findings"] as? [String: Int] ?? [:]).values.reduce(0, +)
        #expect(counted == fromScan.live.count)
        #expect((summary["warnings"] as? [String] ?? []).contains(expired), "\(summary["warnings"] ?? "")")

        // rescan: the same flags; the verdict over every stored image.
        let rescan = try await fathom(["rescan", "--store", store, "--offline", "--quiet", "--exit-code", "4"] + policy)
        #expect(rescan.status == 4, "\(rescan.errorText)")
        #expect(rescan.text.contains("Failing the policy") && rescan.text.contains("\(registry.host)/alpine:3.7"))
        #expect(rescan.text.contains("warning: " + expired), "\(rescan.text)")
        let unusedLine = rescan.text.split(separator: "\n").first { $0.contains("suppressed nothing in any image rescanned") }
        #expect(unusedLine?.contains("\(directory)/ignore:3 (CVE-2099-1234)") == true, "\(rescan.text)")
        // Not the VEX statement, which suppressed musl-utils' finding in every image re-matched.
        #expect(unusedLine?.contains("vex.json") == false, "\(rescan.text)")
        let fleetWarnings = summary["warnings"] as? [String] ?? []
        #expect(fleetWarnings.contains { $0.contains("suppressed nothing in any image") && $0.contains("ignore:3 (CVE-2099-1234)") }, "\(fleetWarnings)")
        // Every finding here is UNKNOWN: --severity CRITICAL leaves none, so the gate passes.
        let passing = try await fathom(["rescan", "--store", store, "--offline", "--quiet", "--exit-code", "4", "--severity", "CRITICAL"])
        #expect(passing.status == 0, "\(passing.errorText)")
        // And says what it hid, as registry and scan do: a rescan that hides every finding is not clean.
        #expect(passing.text.contains("findings left out by the filters in 1 image: "), "\(passing.text)")
        // A word that is no severity is a usage error, before anything runs.
        let bogus = try await fathom(["registry", registry.host, "--store", store, "--severity", "BOGUS"])
        #expect(bogus.status == 64)
        #expect(bogus.errorText.contains("unknown severity 'BOGUS'"))
    }

    /// The change table shows what the policy shows: after an import, a scan under
    /// `--severity CRITICAL` lists no UNKNOWN finding as new (all of Alpine's secdb is UNKNOWN),
    /// while the same scan without it lists them.
    @Test func theChangeTableHonoursThePolicy() async throws {
        // The same history in two stores: a scan before any advisory data, then one after.
        func changesAfterImport(_ policy: [String]) async throws -> [String: Any] {
            let store = try Fixtures.temporaryDirectory("changes-policy") + "/fathom.db"
            let (first, _) = try await scanJSON(["--allow-missing-data"], store: store)
            #expect(first.status == 0, "\(first.errorText)")
            #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
            let (_, document) = try await scanJSON(policy, store: store)
            return try #require(document["changes"] as? [String: Any])
        }
        let strict = try await changesAfterImport(["--severity", "CRITICAL"])
        #expect((strict["new"] as? [Any])?.isEmpty == true, "\(strict)")
        let all = try await changesAfterImport([])
        #expect((all["new"] as? [[String: Any]])?.contains { $0["package"] as? String == "musl" } == true, "\(all)")
        // Scanned again, unchanged: only the findings the policy reports count (0 under CRITICAL,
        // where every finding is UNKNOWN; it said 2 beside "Vulnerabilities: 0").
        let store = try Fixtures.temporaryDirectory("changes-unchanged") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        let (_, first) = try await scanJSON([], store: store)
        let total = try #require((first["vulnerabilities"] as? [Any])?.count)
        let (_, again) = try await scanJSON([], store: store)
        #expect((again["changes"] as? [String: Any])?["unchanged"] as? Int == total && total > 0, "\(again["changes"] ?? "")")
        let (_, strictAgain) = try await scanJSON(["--severity", "CRITICAL"], store: store)
        #expect((strictAgain["changes"] as? [String: Any])?["unchanged"] as? Int == 0, "\(strictAgain["changes"] ?? "")")
    }

    /// VEX attached to an image as an OCI referrer (here by the referrers tag schema, which the
    /// CNCF registry holds like any tag: it serves no referrers API) applies with
    /// `--vex-referrers`, and only then; the statement covers the subcomponent it names.
    @Test func vexAttachedAsAReferrerAppliesWithVexReferrers() async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        try await registry.push("oci:\(layout.directory):gzip", to: "team/vexed", tag: "1")
        let client = try registry.client()
        let image = try registry.reference("team/vexed", "1")
        let manifest = try await client.manifest(image)
        let repository = ImageReference(registry: registry.host, repository: "team/vexed", tag: nil, digest: manifest.digest)
        let vex = Array("""
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/attached", "author": "fathom tests",
             "timestamp": "2026-11-30T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                             "products": [{"@id": "pkg:oci/vexed@\(manifest.digest)", "subcomponents": [{"@id": "pkg:apk/alpine/musl-utils@1.1.18-r3"}]}]}]}
            """.utf8)
        let vexDigest = try await client.uploadBlob(repository, vex)
        let empty = Array("{}".utf8)
        let emptyDigest = try await client.uploadBlob(repository, empty)
        let artifact = Array("""
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.openvex+json",
             "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "\(emptyDigest)", "size": 2},
             "layers": [{"mediaType": "application/vnd.openvex+json", "digest": "\(vexDigest)", "size": \(vex.count)}],
             "subject": {"mediaType": "\(manifest.mediaType?.rawValue ?? "application/vnd.oci.image.manifest.v1+json")", "digest": "\(manifest.digest)", "size": \(manifest.bytes.count)}}
            """.utf8)
        let artifactDigest = Digest.sha256(of: artifact)
        _ = try await client.putManifest(
            ImageReference(registry: registry.host, repository: "team/vexed", tag: nil, digest: artifactDigest), artifact, mediaType: .ociManifest)
        let index = Array("""
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\(artifactDigest)", "size": \(artifact.count),
                            "artifactType": "application/vnd.openvex+json"}]}
            """.utf8)
        _ = try await client.putManifest(
            try registry.reference("team/vexed", "sha256-\(manifest.digest.encoded)"), index, mediaType: .ociIndex)
        try await client.shutdown()

        let store = try Fixtures.temporaryDirectory("vex-referrers") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.secdb("v3.7")]).status == 0)
        func suppressed(_ extra: [String]) async throws -> Set<String> {
            let output = try await fathom(["scan", "\(registry.host)/team/vexed:1", "--store", store, "-f", "json"] + extra)
            #expect(output.status == 0, "\(output.errorText)")
            let document = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
            return Set((document["suppressed"] as? [[String: Any]] ?? []).filter { ($0["rule"] as? String)?.contains("VEX referrer") == true }
                .compactMap { $0["package"] as? String })
        }
        #expect(try await suppressed([]).isEmpty)
        #expect(try await suppressed(["--vex-referrers"]) == ["musl-utils"])
    }

    @Test func unreadablePolicyFilesNameTheFile() async throws {
        let output = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--vex", "/nonexistent/vex.json"])
        #expect(output.status == 1)
        #expect(output.errorText.contains("file /nonexistent/vex.json: io: cannot read the VEX document"))
    }

    @Test func scanWithoutAdvisoriesSaysSo() async throws {
        let store = try Fixtures.temporaryDirectory("empty-store") + "/none.db"
        let output = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--store", store])
        #expect(output.status == 0)
        #expect(output.text.contains("No advisory data: import some with `fathom db import PATH…`."))
    }
}
