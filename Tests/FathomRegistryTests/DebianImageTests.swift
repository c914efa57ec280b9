import FathomAdvisory
import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// A Debian bookworm image built with debootstrap, pushed to the real registry, must list
/// exactly the packages `dpkg-query` lists for the same root filesystem.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DebianImageTests {
    /// The Debian roots `scripts/debian-roots` keeps under `.build/fathom-cache`: bookworm
    /// minbase, and the same root upgraded from bookworm-security. scripts/test makes them before
    /// the suite; made here only when missing (a download inside the time limit).
    static let rootsFixture = SharedFixture { () async throws -> (minbase: String, upgraded: String)? in
        guard Tool.has("debootstrap") else { return nil }
        let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/debian-roots").path
        let result = try await Tool.run([script], check: false)
        let lines = result.text.split(separator: "\n").map(String.init)
        guard result.status == 0, lines.count == 2 else {
            // What failed, in the test's failure: the script's last words.
            throw DebianRootsFailed(output: result.errorText.split(separator: "\n").suffix(20).joined(separator: "\n"))
        }
        return (lines[0], lines[1])
    }

    let roots: (minbase: String, upgraded: String)?
    var rootfs: String? { roots?.minbase }

    init() async throws { roots = try await Self.rootsFixture.value }

    @Test func bookwormImageListsWhatDpkgQueryLists() async throws {
        guard let root = rootfs else {
            Issue.record("debootstrap is missing: scripts/test installs it")
            return
        }
        let directory = try Fixtures.temporaryDirectory("bookworm")
        // Layer 0: the root filesystem. Layer 1: a later `apt-get install` rewrote the status file
        // (here: the same file plus one package), which must not move the base packages' layer.
        try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", directory + "/base.tar", "."])
        let status = try String(contentsOfFile: root + "/var/lib/dpkg/status", encoding: .utf8)
        let extra = "\nPackage: fathom-demo\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: all\n"
        let upper = directory + "/upper"
        try FileManager.default.createDirectory(atPath: upper + "/var/lib/dpkg", withIntermediateDirectories: true)
        try (status.trimmingCharacters(in: .newlines) + "\n" + extra).write(
            toFile: upper + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        try await Tool.run(["tar", "-C", upper, "-cf", directory + "/app.tar", "."])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        let image = try await builder.addImage(layers: [(directory + "/base.tar", .gzip), (directory + "/app.tar", .zstd)])
        try builder.writeIndex([("bookworm", [image])])
        let registry = try await RegistryPullTests.shared.value
        try await registry.push("oci:\(directory)/oci:bookworm", to: "debian", tag: "bookworm-minbase")

        let result = try await withClient(try registry.client()) { client in
            try await ImageScanner().scan(RegistryImageSource(reference: try registry.reference("debian", "bookworm-minbase"), client: client))
        }
        // The oracle: dpkg-query over the same root filesystem.
        let query = try await Tool.run([
            "dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-W", "-f", "${Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n",
        ]).text.split(separator: "\n").map(String.init)
        let expected = (query + ["fathom-demo 1.0-1 all fathom-demo 1.0-1"]).sorted()
        let got = result.packages.map {
            "\($0.package.name) \($0.package.version) \($0.package.arch ?? "-") \($0.package.source?.name ?? "-") \($0.package.source?.version ?? "-")"
        }.sorted()
        #expect(got == expected)
        #expect(result.os?.namespace == "Debian:12")
        #expect(result.packages.first { $0.package.name == "fathom-demo" }?.layer == 1)
        #expect(result.packages.filter { $0.package.name != "fathom-demo" }.allSatisfy { $0.layer == 0 })
        #expect(result.layers[1].facts.summary.compression == .zstd)
    }

    /// The same kind of image scanned by the CLI against the feed derived from bookworm-security:
    /// the findings are exactly the (advisory, package) pairs for which `dpkg --compare-versions`
    /// says the installed source version is below the fix.
    @Test func bookwormFindingsAreExactlyWhatDpkgSays() async throws {
        guard let root = rootfs else {
            Issue.record("debootstrap is missing: scripts/test installs it")
            return
        }
        let before = try await findingsMatchDpkg(root: root, tag: "bookworm-cli")
        #expect(!before.isEmpty)

        // The same root filesystem upgraded for real from bookworm-security reports none of them.
        let upgraded = roots!.upgraded
        let after = try await findingsMatchDpkg(root: upgraded, tag: "bookworm-security")
        #expect(after.isDisjoint(with: before), "\(after.intersection(before).sorted().prefix(10))")
    }

    /// Scans an image of `root` with the CLI and checks the findings against dpkg; returns them.
    func findingsMatchDpkg(root: String, tag: String) async throws -> Set<String> {
        let directory = try Fixtures.temporaryDirectory("bookworm-cli")
        try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", directory + "/base.tar", "."])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("bookworm", [try await builder.addImage(layers: [(directory + "/base.tar", .zstd)])])])
        let registry = try await RegistryPullTests.shared.value
        try await registry.push("oci:\(directory)/oci:bookworm", to: "debian", tag: tag)

        let feed = Fixtures.root.appendingPathComponent("advisories/osv-debian12-derived/osv-debian12-derived.tar.gz").path
        let store = directory + "/fathom.db"
        let fathom = Fixtures.fathomExecutable
        #expect(try await Tool.run([fathom, "db", "import", "--store", store, feed]).status == 0)
        let output = try await Tool.run([fathom, "scan", "\(registry.host)/debian:\(tag)", "--format", "json", "--store", store], check: false)
        #expect(output.status == 0, "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let got = Set((document["vulnerabilities"] as! [[String: Any]]).map { "\($0["id"]!) \($0["package"]!)" })
        #expect(got == (try await Self.dpkgFindings(root: root, feed: feed)).findings)
        return got
    }

    /// The oracle of a Debian root's findings in `feed`: dpkg-query for what is installed, dpkg
    /// --compare-versions for every candidate; "ID PACKAGE" for each pair below its fix, and how
    /// many (package, fix) pairs were compared. A DEBIAN-CVE record of the one CVE its OSV
    /// `upstream` names is reported by that CVE, as Trivy and Grype name Debian's findings.
    static func dpkgFindings(root: String, feed: String) async throws -> (findings: Set<String>, compared: Int) {
        let installed = try await Tool.run([
            "dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-W", "-f", "${Package}\t${source:Package}\t${source:Version}\n",
        ]).text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let records = try await FeedReader.read(feed).records
        var fixes: [String: [(String, String)]] = [:]  // source → (advisory, fixed)
        for record in records {
            for affected in record.affected ?? [] where affected.package?.ecosystem == "Debian:12" {
                for range in affected.ranges ?? [] {
                    let id = record.id.hasPrefix("DEBIAN-CVE-") && record.upstream?.count == 1 ? record.upstream![0] : record.id
                    for fixed in range.events.compactMap(\.fixed) { fixes[affected.package!.name, default: []].append((id, fixed)) }
                }
            }
        }
        var lines: [String] = []
        for fields in installed where fields.count == 3 {
            for (id, fixed) in fixes[fields[1]] ?? [] { lines.append("\(fields[2])\t\(fixed)\t\(id) \(fields[0])") }
        }
        let script = #"while IFS="$(printf '\t')" read -r installed fixed label; do if dpkg --compare-versions "$installed" lt "$fixed"; then echo "$label"; fi; done"#
        let findings = Set(try await Tool.run(["bash", "-c", script], input: Data((lines.joined(separator: "\n") + "\n").utf8)).text
            .split(separator: "\n").map(String.init))
        return (findings, lines.count)
    }
}

/// `scripts/debian-roots` failed (Debian's mirror out of reach, a download cut short).
struct DebianRootsFailed: Error, CustomStringConvertible {
    let output: String
    var description: String { "scripts/debian-roots failed (it needs Debian's mirror):\n\(output)" }
}
