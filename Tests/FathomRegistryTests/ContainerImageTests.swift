import FathomTestSupport
import Foundation
import Testing

/// The image the pool runs, built by `deploy/build-image.sh` from Debian's packages alone and
/// pushed to the real registry: it runs fathom as its non-root user, carries its labels, and
/// fathom scanning its own image finds exactly the packages `dpkg-query` lists for the root and
/// exactly the findings `dpkg --compare-versions` gives against the Debian feed (the root is
/// upgraded from bookworm-security, so those may be none).
@Suite(.serialized, .timeLimit(.minutes(10))) struct ContainerImageTests {
    /// The release binary with the Swift runtime linked in; scripts/test builds it before the suite.
    static let binary = Fixtures.repositoryRoot.appendingPathComponent(".build-static/release/fathom").path
    static let rootCache = Fixtures.repositoryRoot.appendingPathComponent(".build/fathom-cache/image-root").path

    @Test func theImageRunsAsItsUserAndScansAsItsRootSays() async throws {
        guard Tool.has("buildah"), Tool.has("debootstrap") else {
            Issue.record("buildah and debootstrap are needed: scripts/test installs them")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            Issue.record("no \(Self.binary): build it with `swift build -c release --product fathom --static-swift-stdlib --scratch-path .build-static` (scripts/test does)")
            return
        }
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        // One name, removed at the end; what an earlier run left (its image, untagged by this
        // one's) is pruned.
        let name = "localhost/fathom:test"
        _ = try await Tool.run(["buildah", "rmi", name], check: false)
        _ = try await Tool.run(["buildah", "rmi", "--prune"], check: false)
        let script = Fixtures.repositoryRoot.appendingPathComponent("deploy/build-image.sh").path
        let built = try await Tool.run(
            [script, "--binary", Self.binary, "--root-cache", Self.rootCache, "--name", name, "--push", "\(registry.host)/fathom:test", "--tls-verify=false"],
            check: false)
        // The end of its output says what failed (debootstrap's and apt's lines come before).
        let tail = (built.text + built.errorText).split(separator: "\n").suffix(40).joined(separator: "\n")
        try #require(built.status == 0, "build-image.sh exited \(built.status):\n\(tail)")
        #expect(built.text.contains("built \(name) (") && built.text.contains("pushed \(registry.host)/fathom:test@sha256:"), "\(built.text)")

        // It runs fathom, as uid 10001, with fathom as its entrypoint and the OCI labels.
        let container = try await Tool.run(["buildah", "from", name]).text.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try await Tool.run(["buildah", "run", "--isolation", "chroot", container, "--", "/usr/local/bin/fathom", "version"], check: false)
        #expect(version.status == 0 && version.text.hasPrefix("fathom "), "\(version.text)\(version.errorText)")
        let help = try await Tool.run(["buildah", "run", "--isolation", "chroot", container, "--", "/usr/local/bin/fathom", "worker", "--help"], check: false)
        #expect(help.status == 0 && help.text.contains("--batch"), "\(help.text)\(help.errorText)")
        let user = try await Tool.run(["buildah", "run", "--isolation", "chroot", container, "--", "id", "-u"])
        #expect(user.text.trimmingCharacters(in: .whitespacesAndNewlines) == "10001")
        let inspected = try await Tool.run(["buildah", "inspect", "--type", "image", name])
        let image = try #require(try JSONSerialization.jsonObject(with: inspected.stdout) as? [String: Any])
        let config = try #require((image["OCIv1"] as? [String: Any])?["config"] as? [String: Any])
        #expect(config["Entrypoint"] as? [String] == ["/usr/local/bin/fathom"])
        #expect(config["User"] as? String == "10001:10001")
        let labels = config["Labels"] as? [String: String] ?? [:]
        #expect(labels["org.opencontainers.image.title"] == "fathom")
        #expect(version.text.hasPrefix("fathom \(labels["org.opencontainers.image.version"] ?? "?")\n"), "\(labels)")
        #expect(labels["org.opencontainers.image.revision"]?.count == 40)

        // fathom scans its own image from the registry: the packages are dpkg-query's of the
        // root, the findings dpkg's against the Debian feed.
        let root = Self.rootCache + "/bookworm"
        let directory = try Fixtures.temporaryDirectory("own-image")
        let feed = Fixtures.root.appendingPathComponent("advisories/osv-debian12-derived/osv-debian12-derived.tar.gz").path
        let store = directory + "/fathom.db"
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, feed])
        let output = try await Tool.run(
            [Fixtures.fathomExecutable, "scan", "\(registry.host)/fathom:test", "--format", "json", "--store", store], check: false)
        #expect(output.status == 0, "\(output.errorText)")
        let document = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        let packages = (document["packages"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "") \($0["version"] ?? "")" }.sorted()
        let query = try await Tool.run(["dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n"])
        let expected = query.text.split(separator: "\n").map(String.init).sorted()
        #expect(packages == expected)
        #expect(packages.contains { $0.hasPrefix("libsqlite3-0 ") } && packages.contains { $0.hasPrefix("ca-certificates ") })
        let findings = Set((document["vulnerabilities"] as? [[String: Any]] ?? []).map { "\($0["id"] ?? "") \($0["package"] ?? "")" })
        // The root is upgraded from bookworm-security at each build, so the fixture feed may
        // find nothing in it: what matters is that dpkg compared its packages with the feed's
        // fixes and fathom agrees, finding or not.
        let oracle = try await DebianImageTests.dpkgFindings(root: root, feed: feed)
        #expect(oracle.compared > 20, "the feed's fixes compared with the root's packages: \(oracle.compared)")
        #expect(findings == oracle.findings)
        _ = try await Tool.run(["buildah", "rm", container], check: false)
        _ = try await Tool.run(["buildah", "rmi", name], check: false)
    }
}
