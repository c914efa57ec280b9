import FathomCore
import FathomTestSupport
import Foundation
import Testing

/// Images with real language packages, from PyPI and from Debian, pushed to the registry and
/// scanned end to end with imported feeds.
@Suite(.serialized, .timeLimit(.minutes(8))) struct LanguageImageTests {
    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }
    static let cache = Fixtures.repositoryRoot.appendingPathComponent(".build/fathom-cache").path

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false)
    }

    static func advisory(_ name: String) -> String { Fixtures.root.appendingPathComponent("advisories/\(name)").path }

    /// Pushes an image whose single layer is the tree at `root`.
    func push(_ root: String, as repository: String) async throws -> String {
        let directory = try Fixtures.temporaryDirectory(repository.replacingOccurrences(of: "/", with: "-"))
        try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", directory + "/layer.tar", "."])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("latest", [try await builder.addImage(layers: [(directory + "/layer.tar", .gzip)])])])
        try await registry.push("oci:\(directory)/oci:latest", to: repository, tag: "1")
        return "\(registry.host)/\(repository):1"
    }

    @Test func requests2191ReportsPYSEC201828() async throws {
        let root = Self.cache + "/requests-2.19.1-root"
        if !FileManager.default.fileExists(atPath: root + "/usr/lib/python3/dist-packages/requests") {
            let wheels = Self.cache + "/wheels"
            let download = try await Tool.pip(
                ["download", "--quiet", "--no-deps", "--only-binary=:all:", "requests==2.19.1", "-d", wheels], check: false)
            guard download.status == 0 else {
                Issue.record("pip could not download requests==2.19.1: \(download.errorText)")
                return
            }
            try await Tool.pip([
                "install", "--quiet", "--no-deps", "--no-index", "--find-links", wheels,
                "--target", root + "/usr/lib/python3/dist-packages", "requests==2.19.1",
            ])
        }
        let image = try await push(root, as: "python/requests")
        let store = try Fixtures.temporaryDirectory("pypi-store") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.advisory("osv-pypi.tar.gz")]).status == 0)
        let output = try await fathom(["scan", image, "--format", "json", "--store", store])
        #expect(output.status == 0, "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let packages = document["packages"] as! [[String: Any]]
        #expect(packages.contains { $0["ecosystem"] as? String == "pypi" && $0["name"] as? String == "requests" && $0["version"] as? String == "2.19.1" })
        let findings = document["vulnerabilities"] as! [[String: Any]]
        let pysec = findings.first { $0["id"] as? String == "PYSEC-2018-28" }
        #expect(pysec?["package"] as? String == "requests")
        #expect(pysec?["fixedVersion"] as? String == "2.20.0")
        #expect(pysec?["ecosystem"] as? String == "pypi")
    }

    @Test func runcFromDebianReportsItsGoStdlibAdvisories() async throws {
        let root = Self.cache + "/runc-root"
        if !FileManager.default.fileExists(atPath: root + "/usr/sbin/runc") {
            let debs = try Fixtures.temporaryDirectory("runc-deb")
            var download = try await Tool.run(["apt-get", "download", "runc"], check: false, directory: debs)
            if download.status != 0 {
                _ = try await Tool.run(["apt-get", "update", "-qq"], check: false)
                download = try await Tool.run(["apt-get", "download", "runc"], check: false, directory: debs)
            }
            guard download.status == 0, let deb = try FileManager.default.contentsOfDirectory(atPath: debs).first(where: { $0.hasSuffix(".deb") })
            else {
                Issue.record("apt-get download runc failed: \(download.errorText)")
                return
            }
            try await Tool.run(["dpkg-deb", "-x", debs + "/" + deb, root])
        }
        let image = try await push(root, as: "debian/runc")
        let store = try Fixtures.temporaryDirectory("go-store") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Self.advisory("osv-go.tar.gz")]).status == 0)
        let output = try await fathom(["scan", image, "--format", "json", "--store", store])
        #expect(output.status == 0, "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let packages = document["packages"] as! [[String: Any]]
        let stdlib = try #require(packages.first { $0["ecosystem"] as? String == "go" && $0["name"] as? String == "stdlib" })
        #expect(stdlib["path"] as? String == "usr/sbin/runc")
        let goVersion = try #require((stdlib["version"] as? String)?.dropFirst())  // "v1.19.8" → "1.19.8"
        let ours = Set((document["vulnerabilities"] as! [[String: Any]]).filter { $0["package"] as? String == "stdlib" }.compactMap { $0["id"] as? String })

        // The oracle: the same evaluation in Python over the same feed, numeric x.y.z.
        let directory = try Fixtures.temporaryDirectory("osv-go-oracle")
        try await Tool.run(["tar", "-xzf", Self.advisory("osv-go.tar.gz"), "-C", directory])
        let expected = try await GoVulnOracle.stdlibAdvisories(feedDirectory: directory, goVersion: String(goVersion))
        #expect(!expected.isEmpty)
        #expect(ours == expected)
    }

    /// One image with a RubyGems specification (written by RubyGems itself), Composer's
    /// installed.json and a .NET deps.json (both from Trivy's test data), scanned against the
    /// real GitHub advisories: each ecosystem's finding has the advisory's fixed version, the
    /// packages the advisories' ranges leave out are not reported, and coverage lists all three.
    @Test func rubyGemsComposerAndNuGetFindingsFromRealAdvisories() async throws {
        guard Tool.has("ruby") else {
            Issue.record("ruby is not installed (scripts/test installs it)")
            return
        }
        let root = try Fixtures.temporaryDirectory("language-root")
        let specifications = root + "/usr/local/bundle/specifications"
        try FileManager.default.createDirectory(atPath: specifications, withIntermediateDirectories: true)
        for (name, version) in [("rack", "2.0.1"), ("nokogiri", "1.13.4")] {
            let spec = try await Tool.run([
                "ruby", "-e",
                "spec = Gem::Specification.new { |s| s.name = '\(name)'; s.version = '\(version)'; s.summary = 'x'; s.authors = ['x']; s.files = [] }; print spec.to_ruby",
            ])
            try spec.stdout.write(to: URL(fileURLWithPath: "\(specifications)/\(name)-\(version).gemspec"))
        }
        try FileManager.default.createDirectory(atPath: root + "/var/www/vendor/composer", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixtures.root.appendingPathComponent("pkgdb/composer/trivy-integration-vendor/vendor/composer/installed.json").path,
            toPath: root + "/var/www/vendor/composer/installed.json")
        try FileManager.default.createDirectory(atPath: root + "/app", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixtures.root.appendingPathComponent("pkgdb/dotnet/trivy/datacollector.deps.json").path, toPath: root + "/app/datacollector.deps.json")
        let image = try await push(root, as: "languages/ghsa")

        let store = try Fixtures.temporaryDirectory("ghsa-store") + "/fathom.db"
        let imported = try await fathom(["db", "import", "--store", store, "--source", "ghsa", Fixtures.root.appendingPathComponent("advisories/real/ghsa").path])
        #expect(imported.status == 0, "\(imported.errorText)")
        let output = try await fathom(["scan", image, "--format", "json", "--store", store, "--exit-code", "3"])
        #expect(output.status == 3, "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let findings = (document["vulnerabilities"] as! [[String: Any]]).map {
            "\($0["ecosystem"]!) \($0["package"]!) \($0["installedVersion"]!) \($0["id"]!) \($0["fixedVersion"] ?? "-")"
        }.sorted()
        #expect(findings == [
            "composer guzzlehttp/psr7 1.8.3 GHSA-q7rv-6hp3-vh96 1.8.4",
            "gem rack 2.0.1 GHSA-hrqr-hxpp-chr3 2.0.8",
            "nuget Newtonsoft.Json 9.0.1 GHSA-5crp-9r3c-p9vr 13.0.1",
        ])
        let coverage = try #require(document["coverage"] as? [String: Any])
        #expect(coverage["checkedAgainst"] as? [String] == ["NuGet", "Packagist", "RubyGems"])
        #expect((coverage["gaps"] as? [Any])?.isEmpty == true, "\(coverage)")
        let packages = (document["packages"] as! [[String: Any]]).map { "\($0["ecosystem"]!) \($0["name"]!)" }
        #expect(packages.contains("gem nokogiri") && packages.contains("composer psr/http-message"))
    }

    /// An SBOM naming packages of an ecosystem fathom has no advisories for gets no clean verdict.
    @Test func anUnsupportedEcosystemIsAGapNotAPass() async throws {
        let directory = try Fixtures.temporaryDirectory("hex-sbom")
        let sbom = """
            {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
              {"type": "library", "name": "rack", "version": "2.0.8", "purl": "pkg:gem/rack@2.0.8"},
              {"type": "library", "name": "plug", "version": "1.14.0", "purl": "pkg:hex/plug@1.14.0"},
              {"type": "library", "name": "AFNetworking", "version": "4.0.1", "purl": "pkg:cocoapods/AFNetworking@4.0.1"}]}
            """
        try sbom.write(toFile: directory + "/bom.json", atomically: true, encoding: .utf8)
        let store = try Fixtures.temporaryDirectory("ghsa-sbom-store") + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, Fixtures.root.appendingPathComponent("advisories/real/ghsa").path]).status == 0)
        let output = try await fathom(["scan", "sbom:\(directory)/bom.json", "--format", "json", "--store", store, "--exit-code", "3"])
        #expect(output.status == 1, "no verdict: \(output.errorText)")
        #expect(output.errorText.contains("fathom has no advisory source for cocoapods packages"), "\(output.errorText)")
        #expect(output.errorText.contains("no advisories for Hex"), "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let coverage = try #require(document["coverage"] as? [String: Any])
        #expect(coverage["checkedAgainst"] as? [String] == ["RubyGems"])
        let gaps = try #require(coverage["gaps"] as? [[String: Any]])
        #expect(gaps.map { "\($0["namespace"]!) \($0["reason"]!)" }.sorted() == ["Hex no-advisories", "cocoapods unsupported-ecosystem"])
    }
}
