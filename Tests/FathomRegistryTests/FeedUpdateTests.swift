import FathomCore
import FathomTestSupport
import Foundation
import Testing

/// `fathom db update` against a real web server (nginx, serving the fixtures' feeds): imports,
/// conditional requests that cost one 304, a changed feed re-imported, and failures (a 500 that
/// passes, one that lasts, a truncated archive) that keep the previous advisories.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FeedUpdateTests {
    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false)
    }

    static func fixture(_ relative: String) -> String { Fixtures.root.appendingPathComponent("advisories/\(relative)").path }

    /// A served tree in the upstream layouts, a feeds file for it, and a store.
    struct Site {
        var directory: String
        var www: String
        var server: LocalHTTPServer
        var store: String

        func feedsFile(base: String) throws -> String {
            let path = directory + "/feeds-\(UUID().uuidString.prefix(6)).yaml"
            try """
                feeds:
                  - name: alpine-secdb-v3.7-main
                    url: \(base)/secdb.alpinelinux.org/v3.7/main.yaml
                  - name: osv-pypi
                    url: \(base)/osv-vulnerabilities.storage.googleapis.com/PyPI/all.tar.gz
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    func site() async throws -> Site {
        let directory = try Fixtures.temporaryDirectory("feeds")
        let www = directory + "/www"
        let alpine = www + "/secdb.alpinelinux.org/v3.7/main.yaml"
        let pypi = www + "/osv-vulnerabilities.storage.googleapis.com/PyPI/all.tar.gz"
        for path in [alpine, pypi] {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: Self.fixture("alpine-secdb/v3.7/main.yaml"), toPath: alpine)
        // The PyPI export in its upstream layout, from the six-record sample: these tests are about
        // requests and failures, and the full archive's import (tested elsewhere) costs a debug
        // build seconds per run.
        let program = "import sys, tarfile, pathlib\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n"
            + "    for p in sorted(pathlib.Path(sys.argv[2]).glob('*.yaml')): t.add(p, 'vulns/sample/' + p.name)\n"
        try await Tool.run(["python3", "-c", program, pypi, Self.fixture("osv-pypi-sample")])
        return Site(directory: directory, www: www, server: try await LocalHTTPServer(root: www), store: directory + "/fathom.db")
    }

    func stats(_ store: String) async throws -> String { try await fathom(["db", "stats", "--store", store]).text }

    @Test func updateImportsThenCostsOneNotModifiedPerFeed() async throws {
        let site = try await site()
        let feeds = try site.feedsFile(base: site.server.base)
        let first = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(first.status == 0, "\(first.errorText)")
        #expect(first.text.contains("[1/2] alpine-secdb-v3.7-main: 1073 advisories imported"))
        #expect(first.text.contains("[2/2] osv-pypi: 6 advisories imported"))
        let before = try await stats(site.store)
        #expect(before.contains("alpine-secdb-v3.7-main          1073"))

        // db status: where each feed came from, when it was checked, the server's own date.
        let status = try await fathom(["db", "status", "--store", site.store])
        #expect(status.status == 0, "\(status.errorText)")
        let line = status.text.split(separator: "\n").first { $0.hasPrefix("alpine-secdb-v3.7-main") }.map(String.init) ?? ""
        #expect(line.contains("\(site.server.base)/secdb.alpinelinux.org/v3.7/main.yaml"))
        #expect(line.contains(" GMT"), "nginx's Last-Modified: \(line)")
        #expect(!line.contains("never"))
        #expect(!status.errorText.contains("older than"))
        let stale = try await fathom(["db", "status", "--store", site.store, "--max-db-age", "0s"])
        #expect(stale.errorText.contains("advisory data older than --max-db-age 0s: 2 feeds not updated since"))
        // Both are named, not only the oldest.
        #expect(stale.errorText.contains(" days; also "), "\(stale.errorText)")
        #expect(stale.errorText.contains("): run fathom db update"), "\(stale.errorText)")

        // Unchanged upstream: one conditional request each, answered 304, nothing imported.
        let second = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(second.status == 0, "\(second.errorText)")
        #expect(second.text.contains("[1/2] alpine-secdb-v3.7-main: not modified"))
        #expect(second.text.contains("[2/2] osv-pypi: not modified"))
        #expect(site.server.statuses(for: "/v3.7/main.yaml") == [200, 304])
        #expect(site.server.statuses(for: "/PyPI/all.tar.gz") == [200, 304])
        #expect(try await stats(site.store) == before, "a 304 changed the store")

        // The upstream file changes: downloaded again and re-imported.
        let main = site.www + "/secdb.alpinelinux.org/v3.7/main.yaml"
        try FileManager.default.removeItem(atPath: main)
        try FileManager.default.copyItem(atPath: Self.fixture("alpine-secdb/v3.7/community.yaml"), toPath: main)
        let third = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store, "--feed", "alpine-secdb-v3.7-main"])
        #expect(third.status == 0, "\(third.errorText)")
        #expect(third.text.contains("[1/1] alpine-secdb-v3.7-main: "))
        #expect(third.text.contains("advisories imported"))
        #expect(site.server.statuses(for: "/v3.7/main.yaml") == [200, 304, 200])
        #expect(try await stats(site.store) != before)
    }

    @Test func failuresKeepThePreviousAdvisories() async throws {
        let site = try await site()
        let proxy = try await FaultProxy(upstream: "127.0.0.1:\(site.server.port)")
        defer { proxy.stop() }
        let feeds = try site.feedsFile(base: "http://\(proxy.host)")
        #expect(try await fathom(["db", "update", "--feeds", feeds, "--store", site.store]).status == 0)
        let main = site.www + "/secdb.alpinelinux.org/v3.7/main.yaml"
        func requests() -> Int { proxy.requests.filter { $0.contains("/v3.7/main.yaml") }.count }

        // A 500 that passes is retried: the feed imports on the second attempt.
        try FileManager.default.removeItem(atPath: main)
        try FileManager.default.copyItem(atPath: Self.fixture("alpine-secdb/v3.8/main.yaml"), toPath: main)
        proxy.inject(.status(500), pathContains: "/v3.7/main.yaml", times: 1)
        var sent = requests()
        let retried = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(retried.status == 0, "\(retried.errorText)")
        #expect(retried.text.contains("alpine-secdb-v3.7-main: ") && retried.text.contains("advisories imported"))
        #expect(requests() - sent == 2)
        let before = try await stats(site.store)

        // One that lasts fails that feed only (after three attempts), and says so.
        try "# changed\n".write(toFile: main, atomically: false, encoding: .utf8)
        proxy.inject(.status(500), pathContains: "/v3.7/main.yaml", times: 10)
        sent = requests()
        let failed = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(failed.status == 1)
        #expect(failed.text.contains("alpine-secdb-v3.7-main: failed, previous advisories kept"))
        #expect(failed.text.contains("osv-pypi: not modified"))
        #expect(failed.errorText.contains("HTTP error: the feed's server answered 500"))
        #expect(!failed.errorText.contains("registry error"))  // a feed's server is not a registry
        #expect(requests() - sent == 3)
        #expect(try await stats(site.store) == before)

        // A truncated archive is not imported either.
        let archive = site.www + "/osv-vulnerabilities.storage.googleapis.com/PyPI/all.tar.gz"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: archive))
        let truncated = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store, "--feed", "osv-pypi"])
        #expect(truncated.status == 1)
        #expect(truncated.text.contains("osv-pypi: failed, previous advisories kept"))
        #expect(try await stats(site.store) == before)
    }

    /// OSV serves its exports as zip files: one imports, and the same feed truncated does not.
    @Test func zipExportImportsAndATruncatedOneIsRefused() async throws {
        let site = try await site()
        let zip = site.www + "/osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
        let program = "import sys, zipfile, pathlib\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n"
            + "    for p in sorted(pathlib.Path(sys.argv[2]).glob('*.yaml')): z.write(p, p.name)\n"
        try await Tool.run(["python3", "-c", program, zip, Self.fixture("osv-pypi-sample")])
        let feeds = site.directory + "/zip.yaml"
        try "feeds:\n  - name: osv-pypi\n    url: \(site.server.base)/osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip\n".write(
            toFile: feeds, atomically: true, encoding: .utf8)
        let first = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(first.status == 0, "\(first.errorText)")
        #expect(first.text.contains("osv-pypi: 6 advisories imported"))
        // One record that does not parse: the rest imports, the record is named by the feed's
        // address (not a temporary file), counted, and the shrunken feed is a warning.
        let broken = "import sys, zipfile, pathlib\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n"
            + "    ps = sorted(pathlib.Path(sys.argv[2]).glob('*.yaml'))\n    for p in ps[1:]: z.write(p, p.name)\n"
            + "    z.writestr(ps[0].name, ps[0].read_text()[:40])\n"
        try await Tool.run(["python3", "-c", broken, zip, Self.fixture("osv-pypi-sample")])
        let partial = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        let url = "\(site.server.base)/osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
        #expect(partial.text.contains("osv-pypi: 5 advisories imported") && partial.text.contains("downloaded, 1 document could not be read)"), "\(partial.text)")
        #expect(partial.errorText.contains("warning: \(url)!/") && !partial.errorText.contains("fathom-feed-"), "\(partial.errorText)")
        #expect(partial.errorText.contains("warning: osv-pypi: the download has fewer records (5) than the 6 it replaced"), "\(partial.errorText)")
        try await Tool.run(["python3", "-c", program, zip, Self.fixture("osv-pypi-sample")])
        #expect(try await fathom(["db", "update", "--feeds", feeds, "--store", site.store]).text.contains("osv-pypi: 6 advisories imported"))
        // A download that is no feed at all is said once, by its address.
        let saved = try Data(contentsOf: URL(fileURLWithPath: zip))
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: zip))
        let junk = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(junk.status == 1 && junk.errorText.contains(url) && !junk.errorText.contains("fathom-feed-") && !junk.errorText.contains("warning:"), "\(junk.errorText)")
        try saved.write(to: URL(fileURLWithPath: zip))
        #expect(try await fathom(["db", "update", "--feeds", feeds, "--store", site.store]).status == 0)
        let before = try await stats(site.store)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: zip))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: zip))
        let truncated = try await fathom(["db", "update", "--feeds", feeds, "--store", site.store])
        #expect(truncated.status == 1)
        #expect(truncated.text.contains("osv-pypi: failed, previous advisories kept"))
        #expect(try await stats(site.store) == before)
    }

    @Test func feedsFileMistakesAreClearErrors() async throws {
        let directory = try Fixtures.temporaryDirectory("feeds-file")
        try "feeds:\n  - name: x\n    url: not a url\n".write(toFile: directory + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try await fathom(["db", "feeds", "--feeds", directory + "/bad.yaml"])
        #expect(bad.status != 0)
        #expect(bad.errorText.contains("is not a URL"))
        let unknown = try await fathom(["db", "update", "--feed", "no-such-feed", "--store", directory + "/s.db"])
        #expect(unknown.status == 64)
        #expect(unknown.errorText.contains("no feed named no-such-feed"))
        // With the subcommand's usage, not the root's.
        #expect(unknown.errorText.contains("fathom db update") && !unknown.errorText.contains("Usage: fathom <subcommand>"), "\(unknown.errorText)")
        // A host that does not answer is asked once per run, not once per feed it serves.
        let port = try freePort()
        try """
            feeds:
              - {name: first, url: "http://127.0.0.1:\(port)/a/all.zip"}
              - {name: second, url: "http://127.0.0.1:\(port)/b/all.zip"}
            """.write(toFile: directory + "/down.yaml", atomically: true, encoding: .utf8)
        let started = ContinuousClock.now
        let down = try await fathom(["db", "update", "--feeds", directory + "/down.yaml", "--store", directory + "/s.db"])
        #expect(down.status == 1)
        #expect(down.errorText.contains("first: ") && down.errorText.contains("failed after 3 tries: connection refused"))
        // A refusal is an answer: the three attempts (6 s of backoff between them) do not each
        // wait out a connect timeout as well (10 s; 36 s in all).
        #expect(ContinuousClock.now - started < .seconds(25))
        #expect(down.errorText.contains("second: ") && down.errorText.contains("not tried: 127.0.0.1:\(port) could not be reached earlier in this run (connection refused)"))
        let mirrored = try await fathom(["db", "feeds", "--mirror", "http://mirror.internal/feeds/", "--feed", "osv-pypi"])
        #expect(mirrored.text.contains("http://mirror.internal/feeds/osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"))
    }
}

/// The advisory database through a registry: `db push` from one store, `db pull` into another,
/// against the real registry the scans use. Its imports take about 20 s alone on two cores, and
/// several times that while the whole suite's other imports (the accuracy gate's among them)
/// run beside it: the limit guards against a hang, not a slow machine.
@Suite(.serialized, .timeLimit(.minutes(6))) struct AdvisoryArtifactTests {
    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false)
    }

    @Test func pushedDataPullsIntoAnotherStoreAndScansAlike() async throws {
        let directory = try Fixtures.temporaryDirectory("artifact")
        let (source, copy) = (directory + "/source.db", directory + "/copy.db")
        let imported = try await fathom([
            "db", "import", "--store", source, FeedUpdateTests.fixture("alpine-secdb/v3.7/main.yaml"),
            FeedUpdateTests.fixture("osv-pypi.tar.gz"), try await AdvisoryCLITests.nvdFeedFile(in: directory),
        ])
        #expect(imported.status == 0, "\(imported.errorText)")
        let target = "\(registry.host)/fathom/advisories:test"
        let pushed = try await fathom(["db", "push", "--store", source, target])
        #expect(pushed.status == 0, "\(pushed.errorText)")
        #expect(pushed.text.contains("nvdcve-2.0-2019: CVSS scores of 2 vulnerabilities\n"))
        // Equal data, equal bytes: a second push names the same manifest.
        let again = try await fathom(["db", "push", "--store", source, target])
        let digest = pushed.text.split(separator: "(").last
        #expect(digest != nil && again.text.split(separator: "(").last == digest)
        // What the registry holds is an OCI manifest of fathom's own types, one layer per source.
        let raw = try await Tool.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(target)"]).stdout
        let manifest = try JSONSerialization.jsonObject(with: raw) as! [String: Any]
        #expect((manifest["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.fathom.advisory-db.config.v1+json")
        let titles = (manifest["layers"] as? [[String: Any]])?.compactMap { ($0["annotations"] as? [String: String])?["org.opencontainers.image.title"] }
        #expect(titles == ["alpine-secdb-v3.7-main", "nvdcve-2.0-2019", "osv-pypi"])
        // NVD's scores travel as their own layer type (the source has no advisories).
        let types = (manifest["layers"] as? [[String: Any]])?.compactMap { $0["mediaType"] as? String }
        #expect(types?[1] == "application/vnd.fathom.cvss-scores.v1.json+gzip")

        let pulled = try await fathom(["db", "pull", "--store", copy, target])
        #expect(pulled.status == 0, "\(pulled.errorText)")
        #expect(pulled.text.contains("alpine-secdb-v3.7-main: 1073 advisories imported"))
        #expect(pulled.text.contains("nvdcve-2.0-2019: CVSS scores of 2 vulnerabilities imported"))
        let repeated = try await fathom(["db", "pull", "--store", copy, target])
        #expect(repeated.text.contains("alpine-secdb-v3.7-main: 1073 advisories unchanged"))
        func ecosystems(_ store: String) async throws -> String {
            let text = try await fathom(["db", "stats", "--store", store]).text
            return String(text[text.range(of: "ECOSYSTEM")!.lowerBound..<text.range(of: "Layers with facts")!.lowerBound])
        }
        #expect(try await ecosystems(copy) == ecosystems(source))
        let status = try await fathom(["db", "status", "--store", copy]).text
        #expect(status.contains("oci://\(target)"))

        // Scanning with either store reports the same findings.
        func findings(_ store: String) async throws -> [String] {
            let scan = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--store", store, "--format", "json"])
            let document = try JSONSerialization.jsonObject(with: scan.stdout) as! [String: Any]
            return (document["vulnerabilities"] as! [[String: Any]]).map {
                "\($0["id"]!) \($0["package"]!) \($0["fixedVersion"] ?? "-") \($0["severity"]!) \($0["severitySource"] ?? "-")"
            }.sorted()
        }
        let expected = try await findings(source)
        #expect(!expected.isEmpty)
        #expect(expected.contains { $0.contains("CVE-2019-14697 musl") && $0.hasSuffix("CRITICAL nvd") })
        #expect(try await findings(copy) == expected)

        // Pulled data is as old as the pushing store's copy: an import of June stays stale in
        // the store that pulls it (it read as checked at the pull).
        let old = directory + "/old.db"
        try FileManager.default.copyItem(atPath: source, toPath: old)
        try await Tool.sqlite(old, "UPDATE imports SET imported_at = '2026-06-01T00:00:00Z'")
        let stale = "\(registry.host)/fathom/advisories:old"
        #expect(try await fathom(["db", "push", "--store", old, stale]).status == 0)
        let pulledOld = try await fathom(["db", "pull", "--store", directory + "/pulled-old.db", stale])
        #expect(pulledOld.text.contains("alpine-secdb-v3.7-main: 1073 advisories imported (updated 2026-06-01T00:00:00Z where it was pushed)"), "\(pulledOld.text)")
        let oldStatus = try await fathom(["db", "status", "--store", directory + "/pulled-old.db", "--max-db-age", "7d"])
        #expect(oldStatus.errorText.contains("feeds not updated since 2026-06-01"), "\(oldStatus.errorText)")
        #expect(try await fathom(["db", "status", "--store", copy, "--max-db-age", "7d"]).errorText.isEmpty)

        // An ordinary image is not advisory data, and says so.
        let wrong = try await fathom(["db", "pull", "--store", copy, "\(registry.host)/alpine:3.7"])
        #expect(wrong.status == 1)
        #expect(wrong.errorText.contains("not a fathom advisory database"))
    }
}
