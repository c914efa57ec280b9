import FathomCore
import FathomSQLite
import FathomTestSupport
import Foundation
import Testing

/// A fleet over an OCI layout (`fathom registry oci:DIR`) whose images share the Alpine 3.7.3
/// base: two add only a configuration file, one upgrades musl, one removes it. Images with the
/// same packages share one inventory and get identical findings; the others get their own.
/// A rescan after a one-advisory import rewrites only the images whose findings changed.
@Suite(.serialized, .timeLimit(.minutes(5))) struct InventorySharingTests {
    struct Layout {
        var directory: String
        var store: String
    }

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, environment: Fixtures.isolatedEnvironment, check: false)
    }

    /// Writes a tar of `files` (path → text) and returns its path.
    static func tar(_ files: [String: String], in directory: String, name: String) async throws -> String {
        let root = directory + "/" + name
        for (path, text) in files {
            let file = root + "/" + path
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try await Tool.run(["tar", "-C", root, "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-cf", root + ".tar", "."])
        return root + ".tar"
    }

    static func makeLayout() async throws -> Layout {
        let directory = try Fixtures.temporaryDirectory("inventory-sharing")
        let minirootfs = Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")
        try await Tool.run(["gzip", "-dc", minirootfs]).stdout.write(to: URL(fileURLWithPath: directory + "/base.tar"))
        let installed = String(decoding: try await Tool.run(["tar", "-xzf", minirootfs, "-O", "./lib/apk/db/installed"]).stdout, as: UTF8.self)
        #expect(installed.contains("P:musl\nV:1.1.18-r3\n"))
        let upgraded = installed.replacingOccurrences(of: "P:musl\nV:1.1.18-r3\n", with: "P:musl\nV:1.1.18-r4\n")
            .replacingOccurrences(of: "P:musl-utils\nV:1.1.18-r3\n", with: "P:musl-utils\nV:1.1.18-r4\n")
        let removed = installed.components(separatedBy: "\n\n").filter { !$0.contains("P:musl\n") && !$0.contains("P:musl-utils\n") }
            .joined(separator: "\n\n")
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        let base = (directory + "/base.tar", OCILayoutBuilder.Compression.gzip)
        func image(_ files: [String: String], _ name: String) async throws -> OCILayoutBuilder.Image {
            try await builder.addImage(layers: [base, (try await tar(files, in: directory, name: name), .gzip)])
        }
        try builder.writeIndex([
            ("library/alpine:3.7", [try await builder.addImage(layers: [base])]),
            ("apps/config-a:1", [try await image(["etc/app/a.conf": "port = 8080\n"], "config-a")]),
            ("apps/config-b:1", [try await image(["etc/app/b.conf": "port = 9090\n"], "config-b")]),
            ("apps/upgraded:1", [try await image(["lib/apk/db/installed": upgraded], "upgraded")]),
            ("apps/removed:1", [try await image(["lib/apk/db/installed": removed], "removed")]),
        ])
        return Layout(directory: directory + "/oci", store: directory + "/fathom.db")
    }

    /// name → (inventory key, scans recorded, advisory version of the newest) from the store.
    static func stored(_ layout: Layout) throws -> [String: (inventory: String, scans: Int, version: String)] {
        let (store, prefix) = (layout.store, "oci:\(layout.directory):")
        let database = try SQLiteConnection(path: store, mode: .readOnly)
        var rows: [String: (String, Int, String)] = [:]
        try database.query(
            """
            SELECT h.name, i.inventory_key, (SELECT COUNT(*) FROM scans c WHERE c.name = h.name), s.advisory_version
            FROM heads h JOIN scans s ON s.id = h.scan_id JOIN images i ON i.image_key = s.image_key
            """
        ) { row in rows[String((row.text(0) ?? "").dropFirst(prefix.count))] = (row.text(1) ?? "", Int(row.integer(2)), row.text(3) ?? "") }
        return rows.mapValues { (inventory: $0.0, scans: $0.1, version: $0.2) }
    }

    static func muslFindings(_ report: [String: Any]) -> [String] {
        ((report["vulnerabilities"] as? [[String: Any]]) ?? []).filter { ($0["package"] as? String)?.hasPrefix("musl") == true }
            .map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!)" }.sorted()
    }

    @Test func imagesWithTheSamePackagesShareAnInventoryAndARescanRewritesOnlyWhatChanged() async throws {
        let layout = try await Self.makeLayout()
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", layout.store, secdb]).status == 0)
        let reports = layout.directory + "-reports"
        let scan = try await fathom(
            ["registry", "oci:\(layout.directory)", "--store", layout.store, "--format", "json", "--quiet", "--output", reports])
        #expect(scan.status == 0, "\(scan.errorText)")
        let summary = try JSONSerialization.jsonObject(with: scan.stdout) as! [String: Any]
        #expect((summary["images"] as? [String: Int])?["scanned"] == 5)

        func report(_ tag: String) throws -> [String: Any] {
            let file = "oci_\(layout.directory)_\(tag).json".map { "/:@".contains($0) ? "_" : String($0) }.joined()
            return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reports + "/" + file))) as! [String: Any]
        }
        let base = try report("library/alpine:3.7")
        let baseMusl = Self.muslFindings(base)
        #expect(baseMusl.count == 2)  // musl and musl-utils, CVE-2019-14697
        for tag in ["apps/config-a:1", "apps/config-b:1"] {
            let image = try report(tag)
            #expect(image["vulnerabilities"] as? NSArray == base["vulnerabilities"] as? NSArray, "\(tag)")
        }
        #expect(Self.muslFindings(try report("apps/upgraded:1")).isEmpty)
        #expect(Self.muslFindings(try report("apps/removed:1")).isEmpty)
        #expect(((try report("apps/removed:1"))["packages"] as? [[String: Any]])?.contains { $0["name"] as? String == "musl" } == false)

        var rows = try Self.stored(layout)
        let shared = rows["library/alpine:3.7"]!.inventory
        #expect(!shared.isEmpty)
        #expect(rows["apps/config-a:1"]!.inventory == shared && rows["apps/config-b:1"]!.inventory == shared)
        #expect(Set([shared, rows["apps/upgraded:1"]!.inventory, rows["apps/removed:1"]!.inventory]).count == 3)

        // One new advisory for musl below 1.1.18-r5: it reaches the three images with r3 and the
        // upgraded one (r4); the image without musl is not rewritten.
        #expect(try await fathom(["db", "import", "--store", layout.store, try Self.muslFeed(layout)]).status == 0)
        let rescan = try await fathom(["rescan", "--offline", "--store", layout.store, "--format", "json", "--quiet"])
        #expect(rescan.status == 0, "\(rescan.errorText)")
        let rescanned = try JSONSerialization.jsonObject(with: rescan.stdout) as! [String: Any]
        #expect(rescanned["images"] as? Int == 5)
        #expect(rescanned["unchanged"] as? Int == 1)
        let changed = (rescanned["changed"] as? [[String: Any]] ?? []).map { String(($0["name"] as? String ?? "").dropFirst("oci:\(layout.directory):".count)) }
        #expect(changed.sorted() == ["apps/config-a:1", "apps/config-b:1", "apps/upgraded:1", "library/alpine:3.7"].sorted())
        for entry in rescanned["changed"] as? [[String: Any]] ?? [] {
            // The new advisory, once per affected package (musl, and musl-utils from the same origin).
            let new = (entry["new"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!)" }
            #expect(new == ["TEST-MUSL-1 musl", "TEST-MUSL-1 musl-utils"], "\(entry["name"]!)")
            #expect((entry["resolved"] as? [Any])?.isEmpty == true)
        }
        rows = try Self.stored(layout)
        let version = rows["library/alpine:3.7"]!.version
        for (name, row) in rows {
            #expect(row.scans == (name == "apps/removed:1" ? 1 : 2), "\(name)")
            #expect(row.version == version, "\(name) was matched against the new data")
        }
        // Everything is now matched against the current data: nothing left to rescan.
        let again = try await fathom(["rescan", "--offline", "--since-db-change", "--store", layout.store, "--format", "json", "--quiet"])
        #expect((try JSONSerialization.jsonObject(with: again.stdout) as? [String: Any])?["images"] as? Int == 0)
        #expect(again.status == 0 && again.errorText.contains("already matched against the current advisory data"))
        // A store with no scans at all is said to be one, not reported as "0 changed".
        let empty = try await fathom(["rescan", "--offline", "--store", layout.store + "-empty.db"])
        #expect(empty.status == 1)
        #expect(empty.errorText.contains("holds no scans to rescan"))
    }

    /// Writes the one-advisory feed for musl below 1.1.18-r5 and returns its path.
    static func muslFeed(_ layout: Layout) throws -> String {
        let feed = layout.directory + "-feed.json"
        try #"""
            {"id": "TEST-MUSL-1", "modified": "2026-11-29T00:00:00Z", "aliases": ["CVE-2026-0001"],
             "affected": [{"package": {"ecosystem": "Alpine:v3.7", "name": "musl"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.18-r5"}]}]}]}
            """#.write(toFile: feed, atomically: true, encoding: .utf8)
        return feed
    }

    /// An NVD API 2.0 page scoring the musl CVE the secdb does not rate.
    static func nvdPage(_ layout: Layout) throws -> String {
        let page = layout.directory + "-nvdcve-2.0-2019.json"
        try #"""
            {"resultsPerPage": 1, "startIndex": 0, "totalResults": 1, "format": "NVD_CVE", "version": "2.0",
             "timestamp": "2026-11-29T03:00:00.000", "vulnerabilities": [{"cve": {"id": "CVE-2019-14697",
               "sourceIdentifier": "cve@mitre.org", "vulnStatus": "Analyzed", "descriptions": [{"lang": "en", "value": "musl"}],
               "metrics": {"cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary",
                 "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8}}]}}}]}
            """#.write(toFile: page, atomically: true, encoding: .utf8)
        return page
    }

    /// Each distinct inventory's findings are kept in the store with the advisory generation
    /// they were matched against. An import re-matches only the packages it names (or whose
    /// findings' vulnerabilities it re-scores), and the result equals matching from scratch.
    @Test(arguments: StoreBackend.allCases)
    func storedMatchesAreUpdatedWhereAChangeReachesAndEqualAFreshMatch(_ backend: StoreBackend) async throws {
        var layout = try await Self.makeLayout()
        var freshStore = layout.directory + "-fresh.db"
        if backend == .postgres {
            layout.store = try await LocalPostgres.shared.value.database("matches")
            freshStore = try await LocalPostgres.shared.value.database("fresh")
        }
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", layout.store, secdb]).status == 0)
        let first = try await fathom(["registry", "oci:\(layout.directory)", "--store", layout.store, "--quiet", "--format", "json"])
        #expect(first.status == 0, "\(first.errorText)")

        func rescan() async throws -> [String: Int] {
            let output = try await fathom(["rescan", "--offline", "--store", layout.store, "--format", "json", "--quiet"])
            #expect(output.status == 0, "\(output.errorText)")
            let report = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
            #expect(report?["images"] as? Int == 5)
            return report?["matching"] as? [String: Int] ?? [:]
        }
        // The new musl advisory: three distinct inventories updated from their stored matches,
        // musl and musl-utils matched again in the two that hold them, nothing else.
        #expect(try await fathom(["db", "import", "--store", layout.store, try Self.muslFeed(layout)]).status == 0)
        #expect(try await rescan() == ["reused": 0, "updated": 3, "matched": 0, "packagesMatched": 4])
        // NVD's score of CVE-2019-14697 changes only the base inventory's findings of it.
        #expect(try await fathom(["db", "import", "--store", layout.store, try Self.nvdPage(layout)]).status == 0)
        #expect(try await rescan() == ["reused": 0, "updated": 3, "matched": 0, "packagesMatched": 2])
        // Nothing changed: every inventory's findings are taken as stored.
        #expect(try await rescan() == ["reused": 3, "updated": 0, "matched": 0, "packagesMatched": 0])

        // The same images matched from scratch in a new store with the same advisories.
        let fresh = Layout(directory: layout.directory, store: freshStore)
        for feed in [secdb, try Self.muslFeed(layout), try Self.nvdPage(layout)] {
            #expect(try await fathom(["db", "import", "--store", fresh.store, feed]).status == 0)
        }
        func reports(_ store: String) async throws -> [String: NSArray] {
            let directory = layout.directory + "-reports-" + (store == layout.store ? "updated" : "fresh")
            let scan = try await fathom(["registry", "oci:\(layout.directory)", "--store", store, "--format", "json", "--quiet", "--output", directory])
            #expect(scan.status == 0, "\(scan.errorText)")
            var vulnerabilities: [String: NSArray] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))) as? [String: Any]
                vulnerabilities[file] = report?["vulnerabilities"] as? NSArray
            }
            return vulnerabilities
        }
        let updated = try await reports(layout.store)
        let matched = try await reports(fresh.store)
        #expect(updated.count == 5)
        #expect(updated == matched)
        let base = try #require(matched.first { $0.key.contains("alpine_3.7") }?.value as? [[String: Any]])
        #expect(base.contains { $0["id"] as? String == "TEST-MUSL-1" })
        #expect(base.contains { $0["id"] as? String == "CVE-2019-14697" && $0["severity"] as? String == "CRITICAL" })
    }

    /// A manifest scanned before is read from what the store kept (its reading and inventory):
    /// no layer is merged again, and each image's report is the cold scan's, but for what changed
    /// since the previous scan. A reading of other analyzers is not used.
    @Test(arguments: StoreBackend.allCases) func aKnownManifestIsReadAsStoredAndReportsTheSame(_ backend: StoreBackend) async throws {
        var layout = try await Self.makeLayout()
        if backend == .postgres { layout.store = try await LocalPostgres.shared.value.database("known") }
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", layout.store, secdb]).status == 0)
        func scan(_ label: String) async throws -> (summary: [String: Any], reports: [String: [String: Any]]) {
            let directory = layout.directory + "-reports-" + label
            let output = try await fathom(["registry", "oci:\(layout.directory)", "--store", layout.store, "--format", "json", "--quiet", "--output", directory])
            #expect(output.status == 0, "\(output.errorText)")
            var reports: [String: [String: Any]] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
                var report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))) as? [String: Any])
                report["changes"] = nil
                reports[file] = report
            }
            return (try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]), reports)
        }
        let cold = try await scan("cold")
        let warm = try await scan("warm")
        #expect((cold.summary["images"] as? [String: Int])?["known"] == 0)
        #expect((warm.summary["images"] as? [String: Int]) == ["scanned": 5, "known": 5, "skipped": 0, "failed": 0])
        #expect(cold.reports.count == 5)
        #expect(cold.reports.keys.sorted() == warm.reports.keys.sorted())
        for (file, report) in cold.reports {
            #expect(NSDictionary(dictionary: report) == NSDictionary(dictionary: warm.reports[file] ?? [:]), "\(file)")
        }
        let upgraded = try #require(warm.reports.first { $0.key.contains("upgraded") }?.value)
        #expect((upgraded["packages"] as? [Any])?.isEmpty == false && (upgraded["layers"] as? [Any])?.count == 2)

        // A reading other analyzers made (the same reading, its version alone changed) is not
        // used: the images are read from their layers again.
        switch backend {
        case .sqlite:
            try await Tool.sqlite(layout.store, "UPDATE images SET reading = CAST(json_set(CAST(reading AS TEXT), '$.analyzerVersion', 1) AS BLOB)")
        case .postgres:
            let database = try #require(URL(string: layout.store)?.lastPathComponent)
            try await LocalPostgres.shared.value.sql(
                "UPDATE images SET reading = convert_to(jsonb_set(convert_from(reading, 'UTF8')::JSONB, '{analyzerVersion}', '1')::TEXT, 'UTF8')",
                database: database)
        }
        let again = try await scan("stale")
        #expect((again.summary["images"] as? [String: Int])?["known"] == 0)
        for (file, report) in cold.reports {
            #expect(NSDictionary(dictionary: report) == NSDictionary(dictionary: again.reports[file] ?? [:]), "\(file)")
        }
        // Read again, the readings are kept anew.
        #expect((try await scan("kept").summary["images"] as? [String: Int])?["known"] == 5)
    }

    @Test func layoutGlobsSelectAndATypoIsAnError() async throws {
        let layout = try await Self.makeLayout()
        let apps = try await fathom(["registry", "oci:\(layout.directory)", "--repo", "apps/*", "--store", layout.store, "--format", "json", "--quiet"])
        #expect(apps.status == 0, "\(apps.errorText)")
        #expect(((try JSONSerialization.jsonObject(with: apps.stdout) as? [String: Any])?["images"] as? [String: Int])?["scanned"] == 4)
        let typo = try await fathom(["registry", "oci:\(layout.directory)", "--tag", "lastest", "--store", layout.store, "--quiet"])
        #expect(typo.status == 1)
        #expect(typo.errorText.contains("--tag 'lastest' selected no image in oci:\(layout.directory)"))
        let missing = try await fathom(["registry", "oci:\(layout.directory)-nothing", "--store", layout.store, "--quiet"])
        #expect(missing.status == 1)
        #expect(missing.errorText.contains("no OCI layout directory"))
    }

    /// A report's new findings name their other ids (a notification's do too): a reader of
    /// `changes.new` keys on the CVE as the report's vulnerabilities give it.
    @Test func aReportsNewFindingsNameTheirAliases() async throws {
        let layout = try await Self.makeLayout()
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        #expect(try await fathom(["db", "import", "--store", layout.store, secdb]).status == 0)
        let image = "oci:\(layout.directory):library/alpine:3.7"
        #expect(try await fathom(["scan", image, "--store", layout.store, "-f", "json"]).status == 0)
        #expect(try await fathom(["db", "import", "--store", layout.store, try Self.muslFeed(layout)]).status == 0)
        let again = try await fathom(["scan", image, "--store", layout.store, "-f", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: again.stdout) as? [String: Any])
        let new = (report["changes"] as? [String: Any])?["new"] as? [[String: Any]] ?? []
        #expect(new.map { "\($0["id"]!) \($0["package"]!) \(($0["aliases"] as? [String]) ?? [])" }.sorted()
            == ["TEST-MUSL-1 musl [\"CVE-2026-0001\"]", "TEST-MUSL-1 musl-utils [\"CVE-2026-0001\"]"], "\(new)")
    }

    /// An earlier run's report of an image that fails this time is taken out of --output: left
    /// beside this run's reports, it would be read as this run's verdict on the image.
    @Test func aReportOfAnImageThatFailedIsRemovedFromTheOutputDirectory() async throws {
        let layout = try await Self.makeLayout()
        let reports = layout.directory + "-reports"
        func run() async throws -> ProcessOutput {
            try await fathom(["registry", "oci:\(layout.directory)", "--store", layout.store, "--format", "json", "--quiet", "--output", reports])
        }
        func reportFile(_ tag: String) -> String {
            reports + "/" + "oci:\(layout.directory):\(tag)".map { "/:@".contains($0) ? "_" : String($0) }.joined() + ".json"
        }
        #expect(try await run().status == 0)
        #expect(FileManager.default.fileExists(atPath: reportFile("apps/removed:1")))
        #expect(FileManager.default.fileExists(atPath: reportFile("apps/upgraded:1")))

        // The manifest of apps/removed:1 is damaged: its digest no longer matches, so it fails.
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout.directory + "/index.json"))) as! [String: Any]
        let entry = (index["manifests"] as! [[String: Any]]).first {
            ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "apps/removed:1"
        }!
        let digest = (entry["digest"] as! String).split(separator: ":")
        let manifest = layout.directory + "/blobs/\(digest[0])/\(digest[1])"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: manifest))
        bytes[bytes.count - 2] ^= 0x20
        try FileManager.default.removeItem(atPath: manifest)
        try bytes.write(to: URL(fileURLWithPath: manifest))

        let failed = try await run()
        #expect(failed.status == 1, "\(failed.errorText)")
        #expect(String(decoding: failed.stdout, as: UTF8.self).contains("apps/removed:1"))  // the summary names it
        #expect(!FileManager.default.fileExists(atPath: reportFile("apps/removed:1")))
        #expect(FileManager.default.fileExists(atPath: reportFile("apps/upgraded:1")))
        #expect(FileManager.default.fileExists(atPath: reportFile("library/alpine:3.7")))
    }
}
