import FathomCore
import FathomTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Fleet remediation and the HTML report on a fleet with two versions of one base: two apps on
/// base:3.7 (Alpine 3.7.3), one on base:3.10 (Alpine 3.10.9), in the real registry. The report
/// is opened in headless Chromium, as a file and live from `fathom serve` behind its sign-in.
@Suite(.serialized, .timeLimit(.minutes(6))) struct FleetReportTests {
    let registry: LocalRegistry

    init() async throws { (registry, _) = try await TestImages.sharedRegistry() }

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false)
    }

    static let fixture = SharedFixture { () async throws -> String in
        let registry = try await RegistryPullTests.shared.value
        let directory = try Fixtures.temporaryDirectory("two-bases")
        func alpine(_ version: String) async throws -> String {
            let tar = "\(directory)/alpine-\(version).tar"
            try await Tool.run(["gzip", "-dc", Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.tar.gz")]).stdout
                .write(to: URL(fileURLWithPath: tar))
            return tar
        }
        func app(_ name: String) async throws -> String {
            let root = "\(directory)/\(name)"
            try FileManager.default.createDirectory(atPath: root + "/srv", withIntermediateDirectories: true)
            try "\(name)\n".write(toFile: root + "/srv/app.txt", atomically: true, encoding: .utf8)
            try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", root + ".tar", "."])
            return root + ".tar"
        }
        /// A layer that upgrades musl and musl-utils to the fixed release (1.1.18-r4), as an image
        /// built on 3.7 may: none of the base's findings is left in it.
        func upgrade() async throws -> String {
            let root = "\(directory)/upgrade"
            try FileManager.default.createDirectory(atPath: root + "/lib/apk/db", withIntermediateDirectories: true)
            let installed = try await Tool.run([
                "tar", "-xzOf", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "./lib/apk/db/installed",
            ]).text
            try installed.replacingOccurrences(of: "V:1.1.18-r3\n", with: "V:1.1.18-r4\n").write(
                toFile: root + "/lib/apk/db/installed", atomically: true, encoding: .utf8)
            try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", root + ".tar", "."])
            return root + ".tar"
        }
        let (old, new) = (try await alpine("3.7.3"), try await alpine("3.10.9"))
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        let images = [
            ("base-3.7", try await builder.addImage(layers: [(old, .gzip)]), "fleet/base", "3.7"),
            ("base-3.10", try await builder.addImage(layers: [(new, .gzip)]), "fleet/base", "3.10"),
            ("app-a", try await builder.addImage(layers: [(old, .gzip), (try await app("app-a"), .gzip)]), "fleet/app-a", "1"),
            ("app-b", try await builder.addImage(layers: [(old, .gzip), (try await app("app-b"), .gzip)]), "fleet/app-b", "1"),
            ("app-c", try await builder.addImage(layers: [(new, .gzip), (try await app("app-c"), .gzip)]), "fleet/app-c", "1"),
            ("app-d", try await builder.addImage(layers: [(old, .gzip), (try await upgrade(), .gzip)]), "fleet/app-d", "1"),
        ]
        try builder.writeIndex(images.map { ($0.0, [$0.1]) })
        for (tag, _, repository, version) in images {
            try await registry.push("oci:\(directory)/oci:\(tag)", to: repository, tag: version)
        }
        let store = directory + "/fathom.db"
        let feeds = ["v3.7", "v3.10"].map { AdvisoryCLITests.secdb($0) }
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store] + feeds)
        return store
    }

    /// The findings of one image, as `scan` reports them.
    func findings(_ image: String, store: String) async throws -> Set<String> {
        let output = try await fathom(["scan", image, "--store", store, "-f", "json"])
        let document = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
        return Set((document?["vulnerabilities"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!)" })
    }

    @Test func basesSayWhatRebuildingOnTheNewerTagRemoves() async throws {
        let store = try await Self.fixture.value
        let host = registry.host
        let old = try await findings("\(host)/fleet/base:3.7", store: store)
        let new = try await findings("\(host)/fleet/base:3.10", store: store)
        // Removed: the vulnerabilities of a package the newer base no longer has, at any version.
        func unversioned(_ findings: Set<String>) -> Set<String> { Set(findings.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }) }
        let removed = unversioned(old).subtracting(unversioned(new)).count
        #expect(!old.isEmpty && new.count < old.count && removed > 0)
        // app-d, built on 3.7, upgraded musl in its own layer: none of the base's findings is in it.
        #expect(try await findings("\(host)/fleet/app-d:1", store: store).isEmpty)

        let output = try await fathom(["registry", host, "--repo", "fleet/*", "--store", store, "-f", "json", "--quiet"])
        #expect(output.status == 0, "\(output.errorText)")
        let summary = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        // Both bases are past their end of support (Alpine's dates): the fleet names the images on each.
        #expect(Self.endOfSupport(summary) == ["Alpine:v3.7 2019-11-01 4", "Alpine:v3.10 2021-05-01 2"], "\(summary["endOfSupport"] ?? "")")
        let bases = try #require(summary["bases"] as? [[String: Any]])
        let oldBase = try #require(bases.first { $0["name"] as? String == "\(host)/fleet/base:3.7" })
        // Three images are built on 3.7; two carry its findings (app-d fixed them).
        #expect(oldBase["images"] as? Int == 2 && oldBase["builtOn"] as? Int == 3 && oldBase["findings"] as? Int == old.count && oldBase["layers"] as? Int == 1)
        let rebuild = try #require(oldBase["rebuild"] as? [String: Any])
        #expect(rebuild["on"] as? String == "\(host)/fleet/base:3.10")
        // 3.10 is past its end of support too (Alpine's date), and no newer tag is: the advice says so.
        #expect(rebuild["removes"] as? Int == removed && rebuild["images"] as? Int == 2 && rebuild["endOfSupport"] as? String == "2021-05-01")
        let advice = "rebuild on \(host)/fleet/base:3.10 removes \(removed) of this base's findings, but its release Alpine:v3.10 ended 2021-05-01 too, "
            + "and no newer tag still supported removes any"
        #expect(rebuild["advice"] as? String == advice)
        let newBase = try #require(bases.first { $0["name"] as? String == "\(host)/fleet/base:3.10" })
        // app-c is built on 3.10, and carries its findings if it has any.
        #expect(newBase["builtOn"] as? Int == 1 && newBase["images"] as? Int == (new.isEmpty ? 0 : 1) && newBase["rebuild"] == nil, "\(newBase)")

        let table = try await fathom(["registry", host, "--repo", "fleet/*", "--store", store, "--quiet"])
        #expect(table.text.contains(advice))

        // A filter that hides findings says so for the fleet, as each image's report does: the
        // summary of a fleet whose findings --severity leaves out must not read as clean.
        let all = (summary["findings"] as? [String: Int] ?? [:])
        let filtered = try await fathom(["registry", host, "--repo", "fleet/*", "--store", store, "-f", "json", "--quiet", "--severity", "CRITICAL"])
        let kept = try #require(try JSONSerialization.jsonObject(with: filtered.stdout) as? [String: Any])
        let hidden = all.filter { $0.key != "CRITICAL" }.values.reduce(0, +)
        let filterWarnings = kept["warnings"] as? [String] ?? []
        #expect(hidden > 0 && filterWarnings.contains { $0.hasPrefix("\(hidden) findings left out by the filters in ") }, "\(filterWarnings)")

        // A fleet names once the rules that suppressed nothing in any image (a misspelled id).
        let ignore = try Fixtures.temporaryDirectory("fleet-ignore") + "/ignore"
        let used = try #require(old.first?.split(separator: " ").first)
        try "\(used)\nCVE-2019-1469\n".write(toFile: ignore, atomically: true, encoding: .utf8)
        let ignored = try await fathom(["registry", host, "--repo", "fleet/*", "--repo", "flet/*", "--store", store, "-f", "json", "-q", "--ignore-file", ignore])
        let warnings = (try JSONSerialization.jsonObject(with: ignored.stdout) as? [String: Any])?["warnings"] as? [String] ?? []
        #expect(warnings.contains("1 ignore rule or VEX statement suppressed nothing in any image (a misspelled id, a package or product not in them, or one CVE of a notice that fixes others: name the notice): \(ignore):2 (CVE-2019-1469)"), "\(warnings)")
        // A --repo glob that selected nothing beside one that did is said (a typo beside good ones).
        #expect(warnings.contains("--repo 'flet/*' selected no repository in \(host)") && !warnings.contains { $0.contains("'fleet/*'") }, "\(warnings)")
    }

    @Test func theHTMLReportOpensInChromiumWithTheFleetsCounts() async throws {
        let store = try await Self.fixture.value
        let directory = try Fixtures.temporaryDirectory("fleet-html")
        let report = directory + "/fleet.html"
        let output = try await fathom(["registry", registry.host, "--repo", "fleet/*", "--store", store, "-f", "html", "-o", report, "--quiet"])
        #expect(output.status == 0, "\(output.errorText)")
        let html = try String(contentsOfFile: report, encoding: .utf8)
        // Self-contained: no script, nothing loaded from elsewhere.
        #expect(!html.contains("<script") && !html.contains("@import") && !html.contains("url("))
        #expect(!html.contains("src=\"http") && !html.contains("<link rel=\"stylesheet"))
        let json = try await fathom(["registry", registry.host, "--repo", "fleet/*", "--store", store, "-f", "json", "--quiet"])
        let summary = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let total = (summary["findings"] as? [String: Int] ?? [:]).values.reduce(0, +)

        let page = try await Self.open("file://\(report)", screenshot: directory + "/fleet.png")
        #expect(page.errors.isEmpty, "\(page.errors)")
        #expect(page.text.contains("fathom · fleet report"))
        #expect(page.text.contains("6\nimages scanned") && page.text.contains("\(total)\nfindings"), "\(page.text.prefix(400))")
        #expect(page.text.contains("rebuild on \(registry.host)/fleet/base:3.10 removes "))
        #expect(try Self.pngSize(directory + "/fleet.png").width == 1200)
    }

    @Test func theDashboardServesTheReportBehindItsSignIn() async throws {
        let store = try await Self.fixture.value
        let directory = try Fixtures.temporaryDirectory("dashboard")
        // The service scans the images into a copy of the store (its reports are the dashboard's).
        try FileManager.default.copyItem(atPath: store, toPath: directory + "/fathom.db")
        let service = try await ServiceTests.startService(workers: 1, store: directory + "/fathom.db", arguments: ["--rescan-interval", "off"])
        defer { service.server.stop() }
        let (base, token) = (service.base, ServiceTests.apiToken)
        // app-d last: it upgraded musl above the base, and its report must not clear the base's
        // findings, which the other images built on 3.7 still have.
        let images = ["fleet/base:3.7", "fleet/base:3.10", "fleet/app-a:1", "fleet/app-b:1", "fleet/app-c:1", "fleet/app-d:1"]
        // A loaded CI machine (every suite at once on two cores) is slow: wait long, then stop at
        // the cause (the jobs' states) rather than at what follows from it.
        var jobs: [String: Any] = [:]
        for batch in [images.dropLast(), images.suffix(1)] {
            for image in batch {
                #expect(try await ServiceTests.request(.POST, base + "/v1/scans", body: #"{"image": "\#(registry.host)/\#(image)"}"#).status == 202)
            }
            let done = batch.endIndex
            try await ServiceTests.eventually("the scans", seconds: 240) {
                jobs = try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/jobs/summary").body)
                return jobs["done"] as? Int == done
            }
            try #require(jobs["done"] as? Int == done, "the service's jobs: \(jobs)")
        }

        // Without the token: the sign-in page, and a wrong token is refused.
        #expect(try await ServiceTests.request(.GET, base + "/", token: nil).status == 303)
        let wrong = try await Self.open(base + "/", screenshot: directory + "/wrong.png", login: "not-the-token")
        #expect(wrong.afterLogin.contains("That token is not right."))
        #expect(wrong.text.contains("API token") && !wrong.text.contains("fleet report"))

        let page = try await Self.open(base + "/", screenshot: directory + "/dashboard.png", login: token)
        #expect(page.errors.isEmpty, "\(page.errors)")
        #expect(page.url == base + "/")
        #expect(page.text.contains("fathom · fleet report") && page.text.contains("\(images.count)\nimages scanned"), "\(page.text.prefix(400))")
        #expect(page.text.contains("rebuild on \(registry.host)/fleet/base:3.10"))
        #expect(page.text.contains("Every image: list, search, dead jobs"))
        // The trend's one day so far (UTC) ends at the fleet's findings, as the summary counts them.
        let fleet = try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/fleet/summary").body)
        // The service's bases say what the CLI's do: three images are built on 3.7, two carry
        // its findings, and app-d, which upgraded musl above it, left them to the base.
        let oldBase = try #require((fleet["bases"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "\(registry.host)/fleet/base:3.7" })
        #expect(oldBase["images"] as? Int == 2 && oldBase["builtOn"] as? Int == 3 && (oldBase["findings"] as? Int ?? 0) > 0, "\(oldBase)")
        #expect((oldBase["rebuild"] as? [String: Any])?["images"] as? Int == 2, "\(oldBase)")
        // The service knows the release of the tag it advises, as the CLI does.
        #expect((oldBase["rebuild"] as? [String: Any])?["endOfSupport"] as? String == "2021-05-01", "\(oldBase)")
        #expect(Self.endOfSupport(fleet) == ["Alpine:v3.7 2019-11-01 4", "Alpine:v3.10 2021-05-01 2"], "\(fleet["endOfSupport"] ?? "")")
        #expect(page.text.contains("Past end of support") && page.text.contains("Alpine:v3.7 ended 2019-11-01 (4 images)"))
        // Not a gap of any image's checking: the list of images says nothing of it.
        let listedImages = try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/images").body)["images"] as? [[String: Any]] ?? []
        #expect(listedImages.count == images.count && listedImages.allSatisfy { $0["notChecked"] == nil }, "\(listedImages)")
        let findings = (fleet["findings"] as? [String: Int] ?? [:]).values.reduce(0, +)
        let day = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        let dashboard = String(decoding: try await ServiceTests.request(.GET, base + "/", token: token).body, as: UTF8.self)
        #expect(findings > 0 && dashboard.contains("<title>\(day): \(findings) total</title>"), "\(findings) findings on \(day)")
        // Every image, two to a page, in Chromium; the next page's link leads on to the end.
        let list = try await Self.open(base + "/images?limit=2", screenshot: directory + "/images.png", login: token)
        #expect(list.errors.isEmpty, "\(list.errors)")
        #expect(list.text.contains("fathom · images") && list.text.contains("Next page →"), "\(list.text.prefix(600))")
        #expect(list.text.contains("\(registry.host)/fleet/app-a:1") && list.text.contains("\(registry.host)/fleet/app-b:1"), "\(list.text.prefix(600))")
        var listed: [String] = []
        var next: String? = "/images?limit=2"
        while let path = next {
            let html = String(decoding: try await ServiceTests.request(.GET, base + path, token: token).body, as: UTF8.self)
            listed += html.matches(of: /<tr><td><a href="[^"]*">([^<]+)<\/a>/).map { String($0.1) }
            next = html.firstMatch(of: /<a rel="next" href="([^"]+)">/).map { String($0.1).replacingOccurrences(of: "&amp;", with: "&") }
            if listed.count > 10 { break }
        }
        #expect(Set(listed) == Set(images.map { "\(registry.host)/\($0)" }) && listed.count == images.count, "\(listed)")
        // Searched by a package name and by a CVE, in Chromium.
        let musl = try await Self.open(base + "/images?q=musl", screenshot: directory + "/search.png", login: token)
        #expect(musl.text.contains("\(registry.host)/fleet/base:3.7") && musl.text.contains("End of the list"), "\(musl.text.prefix(600))")
        let none = try await Self.open(base + "/images?q=no-such-package-anywhere", screenshot: directory + "/none.png", login: token)
        #expect(none.text.contains("No image with a report matches") && none.text.contains("Dead jobs (0)"), "\(none.text.prefix(600))")
        // An image's own page, with the bearer header (as a script would read it).
        let image = try await ServiceTests.request(.GET, base + "/images/fleet/app-a/1", token: token)
        #expect(image.status == 200)
        #expect(String(decoding: image.body, as: UTF8.self).contains("musl"))
        #expect(try await ServiceTests.request(.GET, base + "/images/fleet/nothing/1", token: token).status == 404)
        if ProcessInfo.processInfo.environment["FATHOM_UPDATE_SCREENSHOT"] != nil {
            let docs = Fixtures.repositoryRoot.appendingPathComponent("docs/dashboard.png").path
            try? FileManager.default.removeItem(atPath: docs)
            try FileManager.default.copyItem(atPath: directory + "/dashboard.png", toPath: docs)
        }

        // A request's own policy that leaves the base's findings out of app-a's report (every
        // musl finding has a fix) does not take them from the base, whose other images have them.
        let scanned = try await ServiceTests.request(
            .POST, base + "/v1/scans", body: #"{"image": "\#(registry.host)/fleet/app-a:1", "policy": {"ignoreStatus": ["fixed"]}}"#)
        #expect(scanned.status == 202)
        try await ServiceTests.eventually("the scan with a policy", seconds: 240) {
            try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/jobs/summary").body)["done"] as? Int == images.count + 1
        }
        let filtered = try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/images/fleet/app-a/1").body)
        #expect((filtered["vulnerabilities"] as? [Any])?.isEmpty == true && (filtered["summary"] as? [String: Any])?["filtered"] != nil, "\(filtered["summary"] ?? "")")
        let after = try ServiceTests.object(try await ServiceTests.request(.GET, base + "/v1/fleet/summary").body)
        let stillBase = try #require((after["bases"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "\(registry.host)/fleet/base:3.7" })
        #expect(stillBase["findings"] as? Int == oldBase["findings"] as? Int && stillBase["images"] as? Int == 2, "\(stillBase)")
        // And the summary says that a report's policy left findings out.
        #expect((after["warnings"] as? [String] ?? []).contains { $0.hasPrefix("1 image's report leaves findings out by policy") }, "\(after["warnings"] ?? "")")
    }

    /// A summary's releases past their end of support, as "release ended images".
    static func endOfSupport(_ summary: [String: Any]) -> [String] {
        (summary["endOfSupport"] as? [[String: Any]] ?? []).map { "\($0["release"] as? String ?? "") \($0["ended"] as? String ?? "") \($0["images"] as? Int ?? 0)" }
    }

    struct Page {
        var url: String
        var text: String
        /// The page the sign-in form answered with.
        var afterLogin: String
        var errors: [String]
    }

    /// Tests/Browser/page.py: the page as headless Chromium renders it.
    static func open(_ url: String, screenshot: String, login: String? = nil) async throws -> Page {
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/Browser/page.py").path
        let output = try await Tool.run(
            ["timeout", "90", "python3", script, url, screenshot] + (login.map { ["--login", $0] } ?? []), environment: environment, check: false)
        try #require(output.status == 0, "headless Chromium (scripts/test installs chromium): \(output.errorText.suffix(2000))")
        let object = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        return Page(
            url: object["url"] as? String ?? "", text: object["text"] as? String ?? "", afterLogin: object["afterLogin"] as? String ?? "",
            errors: object["errors"] as? [String] ?? [])
    }

    /// A PNG's width and height, from its IHDR chunk.
    static func pngSize(_ path: String) throws -> (width: Int, height: Int) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        try #require(bytes.count > 24 && bytes[1...3] == [0x50, 0x4E, 0x47], "\(path) is not a PNG")
        func integer(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (integer(16), integer(20))
    }
}
