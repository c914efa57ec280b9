import FathomTestSupport
import Foundation
import Testing

/// The accuracy gate, in the spirit of Grype's quality gate: each case is a root file system made
/// from real package databases and a set of real advisory records, and `golden/CASE.tsv` is the
/// reviewed list of what fathom must report for it (id, package, installed version, fixed
/// version, status, severity). Any difference fails, named line by line, and the run prints
/// precision and recall per ecosystem. `FATHOM_ACCURACY_RECORD=1` writes the goldens anew for
/// review instead (never in CI: a golden is reviewed, not regenerated).
@Suite(.serialized, .timeLimit(.minutes(10))) struct AccuracyTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        /// Builds the root under the directory given and returns it.
        var root: @Sendable (String) async throws -> String
        /// Feed files and directories, relative to `Tests/Fixtures`.
        var feeds: [String]
        var description: String { name }
    }

    static func fixture(_ relative: String) -> String { Fixtures.root.appendingPathComponent(relative).path }
    static let accuracy = Fixtures.repositoryRoot.appendingPathComponent("Tests/Accuracy")

    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }

    static let cases: [Case] = [
        // Alpine 3.7.3's minirootfs against Alpine's secdb for v3.7.
        Case(name: "alpine-3.7.3-secdb", root: { directory in
            let root = directory + "/root"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try await Tool.run(["tar", "-xzf", fixture("images/alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "-C", root])
            return root
        }, feeds: ["advisories/alpine-secdb/v3.7/main.yaml", "advisories/alpine-secdb/v3.7/community.yaml"]),
        // Debian 12 minbase's dpkg database against the feed derived from bookworm-security's
        // changelogs (its expected matches, computed with dpkg, are checked below as well).
        Case(name: "debian-12-minbase-derived", root: { directory in
            let root = directory + "/root"
            try copy(fixture("pkgdb/dpkg/bookworm-minbase/var/lib/dpkg/status"), to: root + "/var/lib/dpkg/status")
            try copy(fixture("pkgdb/dpkg/bookworm-minbase/os-release"), to: root + "/etc/os-release")
            return root
        }, feeds: ["advisories/osv-debian12-derived/osv-debian12-derived.tar.gz"]),
        // Installed gems (a specification written by RubyGems itself), Composer's installed.json
        // and lock file and .NET deps.json (Trivy's and Syft's test data) against GHSA.
        Case(name: "languages-ghsa", root: { directory in
            let root = directory + "/root"
            try copy(accuracy.appendingPathComponent("roots/rack-2.0.1.gemspec").path, to: root + "/usr/local/bundle/specifications/rack-2.0.1.gemspec")
            for file in try FileManager.default.contentsOfDirectory(atPath: fixture("pkgdb/ruby/gems/specifications")) {
                try copy(fixture("pkgdb/ruby/gems/specifications/\(file)"), to: root + "/usr/lib/ruby/gems/3.1.0/specifications/\(file)")
            }
            // The project's lock beside what it installed: one package, one finding.
            try copy(fixture("pkgdb/composer/trivy-integration-vendor/vendor/composer/installed.json"), to: root + "/srv/api/vendor/composer/installed.json")
            try copy(fixture("pkgdb/composer/trivy-integration/composer.lock"), to: root + "/srv/api/composer.lock")
            try copy(fixture("pkgdb/composer/trivy-happy/composer.lock"), to: root + "/srv/shop/composer.lock")
            try copy(fixture("pkgdb/dotnet/trivy/datacollector.deps.json"), to: root + "/app/datacollector.deps.json")
            try copy(fixture("pkgdb/dotnet/syft/TestLibrary.deps.json"), to: root + "/app2/TestLibrary.deps.json")
            return root
        }, feeds: ["advisories/real/ghsa"]),
        // Python distributions' metadata from osv-scalibr's test data, each at the path pip
        // installs it to, against PyPA's advisories.
        Case(name: "python-pypa", root: { directory in
            let sitePackages = directory + "/root/usr/lib/python3/dist-packages"
            let data = fixture("pkgdb/python/scalibr-wheelegg")
            try copy(data + "/distinfo_meta", to: sitePackages + "/pip-22.2.2.dist-info/METADATA")
            try copy(data + "/pkginfo", to: sitePackages + "/httplib2-0.20.4.egg-info/PKG-INFO")
            try copy(data + "/egginfo", to: sitePackages + "/pycups-2.0.1.egg-info")
            try copy(data + "/pyopenssl-26.0.0.dist-info", to: sitePackages + "/pyOpenSSL-26.0.0.dist-info/METADATA")
            try copy(data + "/monotonic-1.6-py3.10.egg", to: sitePackages + "/monotonic-1.6-py3.10.egg")
            return directory + "/root"
        }, feeds: ["advisories/osv-pypi.tar.gz"]),
        // Trivy's Go 1.15.2 test binary against the whole Go vulndb.
        Case(name: "go-vulndb", root: { directory in
            let root = directory + "/root"
            try copy(fixture("pkgdb/go/trivy-test.elf"), to: root + "/usr/local/bin/app")
            // Executables are what the binary analyzer reads.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + "/usr/local/bin/app")
            return root
        }, feeds: ["advisories/osv-go.tar.gz"]),
    ]

    struct Line: Hashable, Comparable, CustomStringConvertible {
        var ecosystem, id, package, installed, fixed, status, severity: String
        var fields: [String] { [ecosystem, id, package, installed, fixed, status, severity] }
        var description: String { fields.joined(separator: "\t") }
        static func < (a: Line, b: Line) -> Bool { a.fields.lexicographicallyPrecedes(b.fields) }
    }

    static func golden(_ name: String) throws -> [Line] {
        let text = try String(contentsOf: accuracy.appendingPathComponent("golden/\(name).tsv"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { row in
            let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Line(ecosystem: f[0], id: f[1], package: f[2], installed: f[3], fixed: f[4], status: f[5], severity: f[6])
        }
    }

    /// What fathom reports for the case, as golden lines.
    static func scan(_ testCase: Case) async throws -> [Line] {
        let directory = try Fixtures.temporaryDirectory("accuracy-\(testCase.name)")
        let root = try await testCase.root(directory)
        let store = directory + "/fathom.db"
        let imported = try await Tool.run(
            [Fixtures.fathomExecutable, "db", "import", "--store", store] + testCase.feeds.map(fixture), check: false)
        #expect(imported.status == 0, "\(testCase.name): \(imported.errorText)")
        let output = try await Tool.run([Fixtures.fathomExecutable, "scan", "rootfs:\(root)", "--store", store, "--format", "json"], check: false)
        #expect(output.status == 0, "\(testCase.name): \(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        // Every package of every case was checked: a gap here would make the golden's clean
        // lines meaningless.
        let coverage = document["coverage"] as? [String: Any]
        #expect((coverage?["gaps"] as? [Any])?.isEmpty == true, "\(testCase.name): \(coverage ?? [:])")
        return (document["vulnerabilities"] as! [[String: Any]]).map {
            Line(
                ecosystem: $0["ecosystem"] as! String, id: $0["id"] as! String, package: $0["package"] as! String,
                installed: $0["installedVersion"] as! String, fixed: $0["fixedVersion"] as? String ?? "-", status: $0["status"] as! String,
                severity: $0["severity"] as! String)
        }.sorted()
    }

    @Test(arguments: cases) func findingsEqualTheGolden(_ testCase: Case) async throws {
        let actual = try await Self.scan(testCase)
        if ProcessInfo.processInfo.environment["FATHOM_ACCURACY_RECORD"] == "1" {
            let header = "# ecosystem\tid\tpackage\tinstalled\tfixed\tstatus\tseverity (reviewed: see README.md)\n"
            try (header + actual.map(\.description).joined(separator: "\n") + "\n")
                .write(to: Self.accuracy.appendingPathComponent("golden/\(testCase.name).tsv"), atomically: true, encoding: .utf8)
            Issue.record("\(testCase.name): golden written for review; unset FATHOM_ACCURACY_RECORD")
            return
        }
        let expected = try Self.golden(testCase.name)
        #expect(!expected.isEmpty, "\(testCase.name): an empty golden proves nothing")
        let (got, want) = (Set(actual), Set(expected))
        var report: [String] = []
        for ecosystem in Set(got.map(\.ecosystem)).union(want.map(\.ecosystem)).sorted() {
            let a = got.filter { $0.ecosystem == ecosystem }
            let g = want.filter { $0.ecosystem == ecosystem }
            let hits = a.intersection(g).count
            let precision = a.isEmpty ? 1 : Double(hits) / Double(a.count)
            let recall = g.isEmpty ? 1 : Double(hits) / Double(g.count)
            report.append("\(testCase.name) \(ecosystem): precision \(String(format: "%.3f", precision)) recall \(String(format: "%.3f", recall)) (\(hits) of \(g.count) expected, \(a.count) reported)")
        }
        print(report.joined(separator: "\n"))
        let unexpected = got.subtracting(want).sorted()
        let missing = want.subtracting(got).sorted()
        if !unexpected.isEmpty || !missing.isEmpty {
            let extra: [String] = unexpected.prefix(20).map { "  + \($0)" }
            let absent: [String] = missing.prefix(20).map { "  - \($0)" }
            let lines: [String] = ["\(testCase.name) differs from its golden:"] + report + ["reported but not expected:"] + extra
                + ["expected but not reported:"] + absent
            Issue.record(Comment(rawValue: lines.joined(separator: "\n")))
        }
    }

    /// The Go golden is what an independent evaluation of the Go vulndb (Python, numeric x.y.z
    /// over the stdlib's ranges) finds for the binary's toolchain, Go 1.15.2.
    @Test func theGoGoldenIsTheIndependentEvaluation() async throws {
        let directory = try Fixtures.temporaryDirectory("accuracy-go-oracle")
        try await Tool.run(["tar", "-xzf", Self.fixture("advisories/osv-go.tar.gz"), "-C", directory])
        let expected = try await GoVulnOracle.stdlibAdvisories(feedDirectory: directory, goVersion: "1.15.2")
        let golden = try Self.golden("go-vulndb").filter { $0.package == "stdlib" }
        #expect(golden.count == 131)
        #expect(Set(golden.map(\.id)) == expected)
    }

    /// The Debian golden agrees with the matches computed outside fathom (with dpkg) when the
    /// derived feed was made: the same advisory, package, version and fix. Each advisory there
    /// is Debian's record of one CVE (`DEBIAN-CVE-2024-0001`, OSV `upstream` CVE-2024-0001),
    /// which fathom reports by that CVE.
    @Test func theDebianGoldenIsTheExternallyComputedMatches() throws {
        let expected = try Fixtures.json(Self.fixture("advisories/osv-debian12-derived/minbase-expected-matches.json")) as! [String: Any]
        let matches = (expected["matches"] as! [[String: Any]]).map { "\(($0["advisory"] as! String).replacingOccurrences(of: "DEBIAN-CVE-", with: "CVE-")) \($0["package"]!) \($0["version"]!) \($0["fixed"]!)" }
        let golden = try Self.golden("debian-12-minbase-derived").map { "\($0.id) \($0.package) \($0.installed) \($0.fixed)" }
        #expect(matches.count == expected["count"] as? Int)
        #expect(Set(golden) == Set(matches))
    }
}
