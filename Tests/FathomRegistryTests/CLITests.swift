import FathomCore
import FathomTestSupport
import Foundation
import Testing

/// The `fathom` executable as a user runs it: one JSON document on success, one line on
/// standard error and a non-zero exit on failure.
@Suite(.serialized, .timeLimit(.minutes(3))) struct CLITests {
    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }

    func fathom(_ arguments: [String], input: String? = nil) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, input: input.map { Data($0.utf8) }, environment: Fixtures.isolatedEnvironment, check: false)
    }

    @Test func scanPrintsOneStableJSONDocument() async throws {
        let output = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--format", "json"])
        #expect(output.status == 0, "\(output.errorText)")
        let document = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        #expect(document["schemaVersion"] as? Int == 3)
        for key in ["artifact", "os", "layers", "packages", "vulnerabilities"] { #expect(document[key] != nil, "\(key)") }
        let artifact = document["artifact"] as! [String: Any]
        #expect(artifact["manifestDigest"] as? String == layout.gzip.manifestDigest)
        #expect(artifact["platform"] as? String == "linux/amd64")
        let os = document["os"] as! [String: Any]
        #expect(os["id"] as? String == "alpine")
        #expect(os["versionID"] as? String == "3.7.3")
        #expect(os["prettyName"] as? String == "Alpine Linux v3.7")
        let layers = document["layers"] as! [[String: Any]]
        #expect(layers.count == 1)
        #expect(layers[0]["digest"] as? String == layout.gzip.layerDigests[0])
        #expect(layers[0]["diffID"] as? String == layout.gzip.diffIDs[0])
        #expect(layers[0]["mediaType"] as? String == "application/vnd.oci.image.layer.v1.tar+gzip")
        #expect((layers[0]["size"] as? Int ?? 0) > 0)
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.truth.json")) as! [String: Any]
        #expect(layers[0]["entries"] as? Int == truth["tarEntries"] as? Int)
        // Packages: exactly the truth's apk database, each attributed to the only layer.
        let packages = document["packages"] as! [[String: Any]]
        let wanted = (truth["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!) \($0["origin"]!)" }.sorted()
        #expect(packages.map { "\($0["name"]!) \($0["version"]!) \(($0["source"] as? [String: Any])?["name"] ?? "-")" }.sorted() == wanted)
        #expect(packages.allSatisfy { $0["ecosystem"] as? String == "apk" && $0["layer"] as? String == layout.gzip.layerDigests[0] })
        #expect(packages.allSatisfy { $0["path"] as? String == "lib/apk/db/installed" })
    }

    /// What a new user gets wrong is named, not looked up: other transports, a port past
    /// 65535, a user without a password, an empty SBOM, a report into a missing directory.
    @Test func mistakesAreNamedNotGuessedAt() async throws {
        for reference in ["ftp://example.com/app:1", "containers-storage:app:1", "docker-daemon:app:1"] {
            let output = try await fathom(["scan", reference])
            #expect(output.status == 1)
            #expect(output.errorText.contains("is not a source fathom reads"), "\(reference): \(output.errorText)")
        }
        let port = try await fathom(["scan", "127.0.0.1:70000/app:1"])
        #expect(port.status == 1)
        #expect(port.errorText.contains("'70000' is not a port (1 to 65535)"))
        let user = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--username", "someone"])
        #expect(user.status == 64)
        #expect(user.errorText.contains("--username needs a password"))
        let directory = try Fixtures.temporaryDirectory("mistakes")
        let missing = try await fathom(["scan", "\(registry.host)/alpine:3.7", "-f", "json", "-o", directory + "/no/such/dir/report.json"])
        // Said before the scan (a usage error), not after it.
        #expect(missing.status == 64)
        #expect(missing.errorText.contains("--output \(directory)/no/such/dir/report.json: no directory \(directory)/no/such/dir to write the report in"), "\(missing.errorText)")
        let folder = try await fathom(["scan", "\(registry.host)/alpine:3.7", "-f", "json", "-o", directory])
        #expect(folder.status == 64 && folder.errorText.contains("--output \(directory) is a directory: name a file in it (\(directory)/report.json)"), "\(folder.errorText)")
        // `version` only reads: a store it is pointed at that does not exist is not created.
        let version = try await fathom(["version", "--store", directory + "/new.db"])
        #expect(version.status == 0)
        #expect(version.text.contains("no store at \(directory)/new.db"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/new.db"))
        // An SBOM with no component is a gap, not a clean verdict.
        try await fathom(["db", "import", "--store", directory + "/s.db", Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path])
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []}"#.write(
            toFile: directory + "/empty.cdx.json", atomically: true, encoding: .utf8)
        let empty = try await fathom(["scan", "sbom:" + directory + "/empty.cdx.json", "--exit-code", "2", "--store", directory + "/s.db"])
        #expect(empty.status == 1)
        #expect(empty.errorText.contains("no verdict") && empty.errorText.contains("an SBOM that lists nothing"), "\(empty.errorText)")
        // One named OS and no package: the SBOM's own words, and no verdict either.
        let emptyWithOS = try await fathom(["scan", "sbom:" + directory + "/empty.cdx.json", "--os", "alpine:3.7", "--exit-code", "2", "--store", directory + "/s.db"])
        #expect(emptyWithOS.status == 1 && emptyWithOS.errorText.contains("the SBOM lists no package"), "\(emptyWithOS.errorText)")
        // A root file system in which nothing is found (a directory above the root, or empty) says so.
        try FileManager.default.createDirectory(atPath: directory + "/not-a-root/etc", withIntermediateDirectories: true)
        let nothing = try await fathom(["scan", "rootfs:" + directory + "/not-a-root", "--store", directory + "/s.db"])
        #expect(nothing.status == 0)
        // Nothing checked is no clean verdict: busybox has no OS release and no package database.
        let gate = try await fathom(["scan", "oci:\(TestImages.busyboxMusl)", "--store", directory + "/s.db", "--exit-code", "3"])
        #expect(gate.status == 1 && gate.errorText.contains("no verdict: no OS release and no package"), "\(gate.errorText)")
        #expect(try await fathom(["scan", "oci:\(TestImages.busyboxMusl)", "--store", directory + "/s.db", "--exit-code", "3", "--allow-missing-data"]).status == 0)
        #expect(nothing.text.contains("NOT CHECKED: no OS release and no package fathom reads were found"), "\(nothing.text)")
        // A fleet counts such an image as not checked (busybox: no OS release, no package database).
        let fleet = try await fathom(["registry", "oci:\(TestImages.busyboxMusl)", "--store", directory + "/s.db", "-f", "json"])
        #expect((try JSONSerialization.jsonObject(with: fleet.stdout) as? [String: Any])?["missingData"] as? [String: Int] == ["no OS and no package found": 1], "\(fleet.text)")
        let nothingJSON = try await fathom(["scan", "rootfs:" + directory + "/not-a-root", "--store", directory + "/s.db", "-f", "json"])
        #expect(nothingJSON.errorText.contains("not checked: no OS release and no package"), "\(nothingJSON.errorText)")
        // An empty --severity would leave every finding out: a usage error, as an unknown word is.
        let noSeverity = try await fathom(["scan", "sbom:" + directory + "/empty.cdx.json", "--severity", "", "--store", directory + "/s.db"])
        #expect(noSeverity.status == 64 && noSeverity.errorText.contains("no severity given"), "\(noSeverity.errorText)")
        // Purls of two OS releases: matched against neither in silence.
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [{"type": "library", "name": "musl", "version": "1.1.18-r3", "purl": "pkg:apk/alpine/musl@1.1.18-r3?distro=alpine-3.7.3"}, {"type": "library", "name": "zlib", "version": "1.2.11-r1", "purl": "pkg:apk/alpine/zlib@1.2.11-r1?distro=alpine-3.10.4"}, {"type": "library", "name": "musl-utils", "version": "1.1.18-r3", "purl": "pkg:apk/alpine/musl-utils@1.1.18-r3?distro=alpine-3.7&upstream=musl"}]}"#.write(
            toFile: directory + "/mixed.cdx.json", atomically: true, encoding: .utf8)
        let mixed = try await fathom(["scan", "sbom:" + directory + "/mixed.cdx.json", "--store", directory + "/s.db"])
        #expect(mixed.status == 1)
        #expect(mixed.errorText.contains("name 2 releases (") && mixed.errorText.contains("alpine-3.10.4: 1 package") && mixed.errorText.contains(": 2 packages"), "\(mixed.errorText)")
        #expect(try await fathom(["scan", "sbom:" + directory + "/mixed.cdx.json", "--store", directory + "/s.db", "--os", "alpine:3.7"]).status == 0)
        // An SBOM that names its OS but lists no package of it says so in its own words.
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [{"type": "operating-system", "name": "alpine", "version": "3.7.3"}, {"type": "library", "name": "requests", "version": "2.19.1", "purl": "pkg:pypi/requests@2.19.1"}]}"#.write(
            toFile: directory + "/no-os-packages.cdx.json", atomically: true, encoding: .utf8)
        let noOSPackages = try await fathom(["scan", "sbom:" + directory + "/no-os-packages.cdx.json", "--store", directory + "/s.db"])
        #expect(noOSPackages.text.contains("the SBOM names alpine but lists none of its packages"), "\(noOSPackages.text)")
        // --os is the SBOM's: an image's OS is its own, and a --os given for it is said to be unused.
        let osOfImage = try await fathom(["scan", "rootfs:" + directory + "/not-a-root", "--os", "alpine:3.7", "--store", directory + "/s.db"])
        #expect(osOfImage.status == 0 && osOfImage.errorText.contains("--os is for sbom:FILE"), "\(osOfImage.errorText)")
        let sbomDirectory = try await fathom(["scan", "sbom:" + directory, "--store", directory + "/s.db"])
        #expect(sbomDirectory.status == 1 && sbomDirectory.errorText.contains("is a directory"), "\(sbomDirectory.errorText)")

        // A component whose purl has no version is matched by its own `version` field (as Syft
        // reads it); one with no version at all is not checked, which is no clean verdict; a purl
        // and a version field that disagree are said (the purl's is matched).
        func component(_ name: String, version: String?, purl: String) -> String {
            #"{"type": "library", "name": "\#(name)", "purl": "\#(purl)"\#(version.map { #", "version": "\#($0)""# } ?? "")}"#
        }
        let versions = [
            #"{"type": "operating-system", "name": "alpine", "version": "3.7.3"}"#,
            component("musl", version: "1.1.18-r3", purl: "pkg:apk/alpine/musl?distro=alpine-3.7.3"),
            component("musl-utils", version: "1.1.18-r4", purl: "pkg:apk/alpine/musl-utils@1.1.18-r3?distro=alpine-3.7.3&upstream=musl"),
            component("zlib", version: nil, purl: "pkg:apk/alpine/zlib?distro=alpine-3.7.3"),
        ]
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [\#(versions.joined(separator: ", "))]}"#.write(
            toFile: directory + "/versions.cdx.json", atomically: true, encoding: .utf8)
        let versioned = try await fathom(["scan", "sbom:" + directory + "/versions.cdx.json", "--store", directory + "/s.db", "--exit-code", "3"])
        #expect(versioned.status == 3, "\(versioned.errorText)")
        // An SBOM has no layers to count or to name in its remediation.
        #expect(versioned.text.contains("Packages: 3 listed by the SBOM") && !versioned.text.contains("layer"), "\(versioned.text)")
        #expect(versioned.text.contains("CVE-2019-14697  musl ") && versioned.text.contains("CVE-2019-14697  musl-utils"), "\(versioned.text)")
        #expect(versioned.text.contains("NOT CHECKED") && versioned.text.contains("(zlib: no version given)"), "\(versioned.text)")
        #expect(versioned.text.contains("musl-utils's purl says version 1.1.18-r3 and its version field 1.1.18-r4: the purl's is matched"), "\(versioned.text)")
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [\#(versions[0]), \#(versions[3])]}"#.write(
            toFile: directory + "/unversioned.cdx.json", atomically: true, encoding: .utf8)
        let unversioned = try await fathom(["scan", "sbom:" + directory + "/unversioned.cdx.json", "--store", directory + "/s.db", "--exit-code", "3"])
        #expect(unversioned.status == 1 && unversioned.errorText.contains("no verdict"), "\(unversioned.text) \(unversioned.errorText)")
        // --os naming another release than the SBOM's own is said; the same release is not.
        let otherRelease = try await fathom(["scan", "sbom:" + directory + "/versions.cdx.json", "--store", directory + "/s.db", "--os", "alpine:3.10"])
        #expect(otherRelease.text.contains("the SBOM names Alpine:v3.7, and --os alpine:3.10 matches its packages against Alpine:v3.10 instead"), "\(otherRelease.text)")
        let sameRelease = try await fathom(["scan", "sbom:" + directory + "/versions.cdx.json", "--store", directory + "/s.db", "--os", "alpine:3.7"])
        #expect(!sameRelease.text.contains("--os alpine:3.7 matches"), "\(sameRelease.text)")

        // VEX about the image an SBOM is of (by the digest its subject names) applies to the
        // SBOM's packages, as it does to the image's.
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "metadata": {"component": {"type": "container", "name": "app", "purl": "pkg:oci/app@\#(digest.replacingOccurrences(of: ":", with: "%3A"))"}}, "components": [\#(versions[0]), \#(versions[1])]}"#.write(
            toFile: directory + "/image.cdx.json", atomically: true, encoding: .utf8)
        try #"""
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/sbom", "author": "fathom tests",
             "timestamp": "2026-11-29T00:00:00Z", "version": 1,
             "statements": [{"vulnerability": {"name": "CVE-2019-14697"}, "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                             "products": [{"@id": "pkg:oci/app@\#(digest)", "subcomponents": [{"@id": "pkg:apk/alpine/musl"}]}]}]}
            """#.write(toFile: directory + "/image.vex.json", atomically: true, encoding: .utf8)
        let byImage = try await fathom(["scan", "sbom:" + directory + "/image.cdx.json", "--store", directory + "/s.db", "--vex", directory + "/image.vex.json", "-f", "json"])
        let waived = try #require(try JSONSerialization.jsonObject(with: byImage.stdout) as? [String: Any])
        #expect((waived["suppressed"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!)" } == ["CVE-2019-14697 musl"], "\(byImage.errorText)")
        #expect(!byImage.errorText.contains("suppressed nothing"), "\(byImage.errorText)")
    }

    /// `rootfs:DIR`: Alpine 3.7's root file system unpacked by `tar` scans as its image does:
    /// the same packages (those of the truth file) and the same findings, with nothing cached.
    @Test func anUnpackedRootFileSystemScansAsItsImage() async throws {
        let directory = try Fixtures.temporaryDirectory("rootfs")
        try FileManager.default.createDirectory(atPath: directory + "/root", withIntermediateDirectories: true)
        try await Tool.run(["tar", "-xzf", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "-C", directory + "/root"])
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")]).status == 0)
        func scan(_ reference: String) async throws -> [String: Any] {
            let output = try await fathom(["scan", reference, "--store", store, "-f", "json"])
            #expect(output.status == 0, "\(reference): \(output.errorText)")
            return try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
        }
        func keys(_ document: [String: Any], _ key: String, _ fields: [String]) -> Set<String> {
            Set((document[key] as? [[String: Any]] ?? []).map { item in fields.map { "\(item[$0] ?? "")" }.joined(separator: " ") })
        }
        let rootfs = try await scan("rootfs:\(directory)/root")
        let image = try await scan("oci:\(layout.directory):gzip")
        let truth = try #require(try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.truth.json")) as? [String: Any])
        let wanted = Set((truth["packages"] as? [[String: Any]] ?? []).map { "\($0["name"]!) \($0["version"]!)" })
        #expect(!wanted.isEmpty)
        #expect(keys(rootfs, "packages", ["name", "version"]) == wanted)
        #expect(keys(rootfs, "vulnerabilities", ["id", "package", "installedVersion", "fixedVersion"])
            == keys(image, "vulnerabilities", ["id", "package", "installedVersion", "fixedVersion"]))
        #expect((rootfs["os"] as? [String: Any])?["versionID"] as? String == "3.7.3")
        #expect((rootfs["artifact"] as? [String: Any])?["name"] as? String == "rootfs:\(directory)/root")
        // A directory that is not there is named.
        let missing = try await fathom(["scan", "rootfs:\(directory)/nothing", "--store", store])
        #expect(missing.status == 1)
        #expect(missing.errorText.contains("no directory at \(directory)/nothing"))

        // Two directories are two images to a rescan: each keeps its own findings. They shared
        // one key, and a rescan matched both with the inventory of the one scanned last.
        let other = directory + "/other/srv/node_modules/minimist"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try #"{"name": "minimist", "version": "0.0.8"}"#.write(toFile: other + "/package.json", atomically: true, encoding: .utf8)
        #expect(try await fathom(["db", "import", "--store", store, Fixtures.root.appendingPathComponent("advisories/real/ghsa/GHSA-xvch-5gv4-984h.json").path]).status == 0)
        _ = try await scan("rootfs:\(directory)/root")
        let minimist = try await scan("rootfs:\(directory)/other")
        #expect(keys(minimist, "vulnerabilities", ["id", "package"]) == ["GHSA-xvch-5gv4-984h minimist"])
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.8")]).status == 0)
        let rescan = try await fathom(["rescan", "--offline", "--store", store, "-f", "json"])
        let summary = try #require(try JSONSerialization.jsonObject(with: rescan.stdout) as? [String: Any], "\(rescan.errorText)")
        #expect(summary["images"] as? Int == 3 && summary["unchanged"] as? Int == 3 && (summary["changed"] as? [Any])?.isEmpty == true, "\(summary)")

        // The same image with its OS no longer identified (its release files gone) still holds
        // the vulnerable musl: its findings are not checked this time, never "resolved" (a
        // push of such an image confirmed fixes that were not made).
        let before = keys(rootfs, "vulnerabilities", ["id", "package", "installedVersion"])
        #expect(!before.isEmpty)
        func forgetRelease() {
            for file in ["etc/os-release", "usr/lib/os-release", "etc/alpine-release"] { try? FileManager.default.removeItem(atPath: "\(directory)/root/\(file)") }
        }
        forgetRelease()
        let table = try await fathom(["scan", "rootfs:\(directory)/root", "--store", store])
        #expect(table.text.contains(", 0 resolved, 0 unchanged, \(before.count) not checked this time"), "\(table.text)")
        #expect(table.text.contains("not checked  CVE-") || table.text.contains("not checked  ALPINE-"), "\(table.text)")
        // Told again as JSON: the release back (its findings new again), then gone.
        try await Tool.run(["tar", "-xzf", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "-C", directory + "/root"])
        #expect(keys(try await scan("rootfs:\(directory)/root"), "vulnerabilities", ["id", "package", "installedVersion"]) == before)
        forgetRelease()
        let changes = try #require(try await scan("rootfs:\(directory)/root")["changes"] as? [String: Any])
        #expect((changes["resolved"] as? [Any])?.isEmpty == true, "\(changes)")
        #expect(Set((changes["notChecked"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!)" }) == before)
        // Still unchecked at the next scan, and unchanged (not new) once checked again.
        let again = try #require(try await scan("rootfs:\(directory)/root")["changes"] as? [String: Any])
        #expect((again["notChecked"] as? [Any])?.count == before.count && (again["resolved"] as? [Any])?.isEmpty == true, "\(again)")
        try await Tool.run(["tar", "-xzf", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "-C", directory + "/root"])
        let back = try #require(try await scan("rootfs:\(directory)/root")["changes"] as? [String: Any])
        #expect((back["new"] as? [Any])?.isEmpty == true && back["unchanged"] as? Int == before.count && back["notChecked"] == nil, "\(back)")

        // The same with its package database gone (the OS still identified): none of its
        // packages could be seen, so its findings are not checked either, never "removed".
        try FileManager.default.removeItem(atPath: "\(directory)/root/lib/apk/db/installed")
        let blind = try #require(try await scan("rootfs:\(directory)/root")["changes"] as? [String: Any])
        #expect((blind["resolved"] as? [Any])?.isEmpty == true, "\(blind)")
        #expect(Set((blind["notChecked"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!)" }) == before)
        // A rescan of it keeps them unchecked.
        let rescanned = try await fathom(["rescan", "--offline", "--store", store, "-f", "json"])
        let rescanReport = try #require(try JSONSerialization.jsonObject(with: rescanned.stdout) as? [String: Any], "\(rescanned.errorText)")
        for image in rescanReport["changed"] as? [[String: Any]] ?? [] {
            #expect((image["resolved"] as? [Any] ?? []).isEmpty, "\(image)")
        }
        let root = try #require((rescanReport["changed"] as? [[String: Any]])?.first { ($0["name"] as? String)?.hasSuffix("/root") == true }, "\(rescanReport)")
        #expect(Set((root["notChecked"] as? [[String: Any]] ?? []).map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!)" }) == before)
    }

    /// One manifest scanned as a plain tag and as the amd64 child of an index tag, in either
    /// order: a rescan sees neither tag as moved, run after run.
    /// A language package an OS package of the distribution installed (Debian's python3-urllib3
    /// puts urllib3's egg-info in dist-packages, with a backported fix under the upstream version)
    /// is dpkg's, not matched again under PyPI; one pip installed beside it is, and so is one a
    /// vendor's .deb installed. The oracle for which file is whose: `dpkg-query -S` over the root.
    @Test func languagePackagesAnOSPackageInstalledAreItsOwn() async throws {
        let root = try Fixtures.temporaryDirectory("os-owned") + "/root"
        let owned = "usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO"
        let pip = "usr/local/lib/python3.11/dist-packages/urllib3-1.26.5.dist-info/METADATA"
        // A vendor's .deb (its maintainer not Debian's) installs a library Debian's advisories
        // know nothing of: it stays a PyPI package.
        let vendor = "opt/acme/lib/python3/requests-2.19.1.dist-info/METADATA"
        for (path, text) in [
            ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            ("var/lib/dpkg/status", "Package: python3-urllib3\nStatus: install ok installed\nMaintainer: Debian Python Team <team+python@tracker.debian.org>\n"
                + "Architecture: all\nSource: python-urllib3\nVersion: 1.26.12-1+deb12u4\n\n"
                + "Package: acme-agent\nStatus: install ok installed\nMaintainer: ACME Packaging <packages@acme.example>\nArchitecture: amd64\nVersion: 3.1\n\n"),
            ("var/lib/dpkg/info/python3-urllib3.list", "/.\n/usr\n/usr/lib/python3/dist-packages\n/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info\n/\(owned)\n"),
            ("var/lib/dpkg/info/acme-agent.list", "/.\n/opt\n/opt/acme\n/\(vendor)\n"),
            (owned, "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.12\n"),
            (pip, "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\n"),
            (vendor, "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n"),
        ] {
            try FileManager.default.createDirectory(atPath: root + "/" + (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        func owner(_ path: String) async throws -> String? {
            let query = try await Tool.run(["dpkg-query", "--admindir=\(root)/var/lib/dpkg", "-S", "/" + path], check: false)
            return query.status == 0 ? query.text.split(separator: ":").first.map(String.init) : nil
        }
        let (ownedBy, pipBy, vendorBy) = (try await owner(owned), try await owner(pip), try await owner(vendor))
        #expect(ownedBy == "python3-urllib3" && pipBy == nil && vendorBy == "acme-agent")
        let scan = try await fathom(["scan", "rootfs:" + root, "--list-all-pkgs", "-f", "json", "--store", root + "/../fathom.db"])
        let packages = try #require((try JSONSerialization.jsonObject(with: scan.stdout) as? [String: Any])?["packages"] as? [[String: Any]], "\(scan.errorText)")
        #expect(packages.map { "\($0["ecosystem"] ?? "") \($0["name"] ?? "") \($0["version"] ?? "") \($0["path"] ?? "")" }.sorted() == [
            "deb acme-agent 3.1 var/lib/dpkg/status", "deb python3-urllib3 1.26.12-1+deb12u4 var/lib/dpkg/status", "pypi requests 2.19.1 \(vendor)",
            "pypi urllib3 1.26.5 \(pip)",
        ], "\(packages)")
    }

    /// An npm project with its node_modules installed is what node_modules holds (a dev
    /// dependency the lock lists but `npm ci --omit=dev` left out is not there); its
    /// package-lock.json counted each package a second time. A lock alone still counts.
    @Test func anInstalledNpmProjectIsItsNodeModules() async throws {
        let root = try Fixtures.temporaryDirectory("npm-installed") + "/root"
        let lock = #"{"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/lodash": {"version": "4.17.15"}, "node_modules/minimist": {"version": "0.0.8", "dev": true}}}"#
        for (path, text) in [
            ("srv/app/package-lock.json", lock), ("srv/app/node_modules/lodash/package.json", #"{"name": "lodash", "version": "4.17.15"}"#),
            ("srv/tool/package-lock.json", lock),
        ] {
            try FileManager.default.createDirectory(atPath: root + "/" + (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        let scan = try await fathom(["scan", "rootfs:" + root, "--list-all-pkgs", "-f", "json", "--store", root + "/../fathom.db"])
        let packages = try #require((try JSONSerialization.jsonObject(with: scan.stdout) as? [String: Any])?["packages"] as? [[String: Any]], "\(scan.errorText)")
        #expect(packages.map { "\($0["name"] ?? "") \($0["version"] ?? "") \($0["path"] ?? "")" }.sorted() == [
            "lodash 4.17.15 srv/app/node_modules/lodash/package.json", "lodash 4.17.15 srv/tool/package-lock.json", "minimist 0.0.8 srv/tool/package-lock.json",
        ], "\(packages)")
    }

    /// A second vulnerable copy of a package is a new finding, and the counts add up to the
    /// findings shown: minimist 0.0.8 and then 1.2.5 beside it (both in GHSA-xvch-5gv4-984h's
    /// ranges) read "0 new … 1 unchanged" for two findings.
    @Test func aSecondVulnerableCopyIsNewAndTheCountsAddUp() async throws {
        let directory = try Fixtures.temporaryDirectory("second-copy")
        let (root, store) = (directory + "/root", directory + "/fathom.db")
        #expect(try await fathom(["db", "import", "--store", store, Fixtures.root.appendingPathComponent("advisories/real/ghsa/GHSA-xvch-5gv4-984h.json").path]).status == 0)
        func install(_ path: String, _ version: String) throws {
            try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
            try #"{"name": "minimist", "version": "\#(version)"}"#.write(toFile: root + "/" + path + "/package.json", atomically: true, encoding: .utf8)
        }
        try install("srv/a/node_modules/minimist", "0.0.8")
        #expect(try await fathom(["scan", "rootfs:" + root, "--store", store]).status == 0)
        try install("srv/b/node_modules/minimist", "1.2.5")
        let again = try await fathom(["scan", "rootfs:" + root, "--store", store])
        #expect(again.text.contains("Vulnerabilities: 2 ") && again.text.contains("1 new, 0 resolved, 1 unchanged"), "\(again.text)")
        let json = try await fathom(["scan", "rootfs:" + root, "--store", store, "-f", "json"])
        let changes = try #require((try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])?["changes"] as? [String: Any], "\(json.errorText)")
        #expect(changes["unchanged"] as? Int == 2 && (changes["new"] as? [Any])?.isEmpty == true, "\(changes)")
    }

    @Test func aManifestBehindAnIndexTagIsNotAMovedTag() async throws {
        for order in [["multi", "3.7"], ["3.7", "multi"]] {
            let store = try Fixtures.temporaryDirectory("same-manifest") + "/fathom.db"
            for tag in order {
                let scanned = try await fathom(["scan", "\(registry.host)/alpine:\(tag)", "--store", store, "-f", "json"])
                #expect(scanned.status == 0, "\(scanned.errorText)")
            }
            for _ in 0..<2 {
                let rescan = try await fathom(["rescan", "--store", store, "--quiet", "-f", "json"])
                #expect(rescan.status == 0, "\(rescan.errorText)")
                let report = try #require(try JSONSerialization.jsonObject(with: rescan.stdout) as? [String: Any])
                #expect(report["moved"] as? Int == 0, "\(order): \(rescan.text)")
                #expect(report["images"] as? Int == 2)
            }
        }
    }

    @Test func tableFormatAndPlatformFlag() async throws {
        let output = try await fathom(["scan", "\(registry.host)/alpine:multi", "--platform", "linux/arm64", "--list-all-pkgs"])
        #expect(output.status == 0, "\(output.errorText)")
        #expect(output.text.contains("Alpine Linux v3.20"))
        #expect(output.text.contains("zstd"))  // the layers, listed with the packages
        #expect(output.text.contains("linux/arm64"))
    }

    @Test func localSourcesScanToo() async throws {
        let oci = try await fathom(["scan", "oci:\(TestImages.busyboxMusl)", "--format", "json"])
        #expect(oci.status == 0)
        let archive = try await fathom(["scan", "docker-archive:\(Fixtures.image("trivy-docker-save/alpine-310.tar.gz"))", "--format", "json"])
        #expect(archive.status == 0)
        let document = try JSONSerialization.jsonObject(with: archive.stdout) as! [String: Any]
        #expect((document["os"] as? [String: Any])?["versionID"] as? String == "3.10.4")
    }

    @Test(arguments: [
        (["scan", "UPPER/Case:tag"], "is not an image reference"),
        (["scan", "127.0.0.1:1/nothing:here"], "image 127.0.0.1:1/nothing:here: transport: GET http://127.0.0.1:1/v2/nothing/manifests/here failed after 5 tries: connection refused"),
        (["scan", Fixtures.image("trivy-docker-save/alpine-310.tar.gz")], "is a file here: for a `docker save` tar write docker-archive:"),
        (["scan", "/tmp"], "'/tmp' is a directory here: for an OCI image layout write oci:/tmp"),
        // A mistyped transport before a path that is here is not Docker Hub's image `docker-archve`.
        (["scan", "docker-archve:" + Fixtures.image("trivy-docker-save/alpine-310.tar.gz")], "'docker-archve:' is not a source fathom reads, and '"
            + Fixtures.image("trivy-docker-save/alpine-310.tar.gz") + "' is a path here: did you mean docker-archive:"),
        (["scan", "OCI-archiv:/tmp"], "did you mean oci-archive:/tmp?"), (["scan", "OCI:/tmp"], "did you mean oci:/tmp?"),
        (["scan", "docker-archive:/nonexistent.tar"], "cannot open"),
        (["scan", "oci:/nonexistent-layout"], "no OCI layout directory"),
        (["db", "stats", "--store", "/tmp"], "cannot open the SQLite database: it is a directory, not a database file (name a file in it, such as /tmp/fathom.db)"),
    ])
    func failuresAreOneLineAndNonZero(_ arguments: [String], _ expected: String) async throws {
        let output = try await fathom(arguments)
        #expect(output.status != 0)
        #expect(output.stdout.isEmpty)
        #expect(output.errorText.contains(expected), "\(output.errorText)")
        #expect(output.errorText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count <= 2)
    }

    /// skopeo's other transports, written by skopeo itself from the test layout: the same
    /// packages as the layout gives.
    @Test func ociArchiveAndSkopeoDirectoriesScanLikeTheLayout() async throws {
        let directory = try Fixtures.temporaryDirectory("transports")
        try await Tool.run(["skopeo", "copy", "--quiet", "oci:\(layout.directory):gzip", "oci-archive:\(directory)/image.tar:gzip"])
        try await Tool.run(["skopeo", "copy", "--quiet", "oci:\(layout.directory):gzip", "dir:\(directory)/dir"])
        func packages(_ reference: String) async throws -> [String] {
            let output = try await fathom(["scan", reference, "-f", "json"])
            #expect(output.status == 0, "\(reference): \(output.errorText)")
            let document = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
            return (document?["packages"] as? [[String: Any]] ?? []).map { "\($0["name"]!) \($0["version"]!)" }.sorted()
        }
        let expected = try await packages("oci:\(layout.directory):gzip")
        #expect(expected.count > 10)
        #expect(try await packages("oci-archive:\(directory)/image.tar") == expected)
        #expect(try await packages("oci-archive:\(directory)/image.tar:gzip") == expected)
        #expect(try await packages("dir:\(directory)/dir") == expected)
        // Each package's layer by its diff ID is the same from a compressed layout and from a
        // `docker save` tar, whose layer digests are the diff IDs (Grype's layer id).
        try await Tool.run(["skopeo", "copy", "--quiet", "oci:\(layout.directory):gzip", "docker-archive:\(directory)/saved.tar:app:1"])
        func layers(_ reference: String) async throws -> (digests: Set<String>, diffIDs: [String]) {
            let output = try await fathom(["scan", reference, "-f", "json"])
            let document = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
            let packages = document?["packages"] as? [[String: Any]] ?? []
            return (Set(packages.compactMap { $0["layer"] as? String }), packages.map { "\($0["name"]!) \($0["layerDiffID"] as? String ?? "-")" }.sorted())
        }
        let (layoutDigests, layoutDiffIDs) = try await layers("oci:\(layout.directory):gzip")
        let (savedDigests, savedDiffIDs) = try await layers("docker-archive:\(directory)/saved.tar")
        #expect(layoutDigests != savedDigests, "a gzip blob's digest is not its diff ID: the test can fail")
        #expect(!layoutDiffIDs.isEmpty && layoutDiffIDs == savedDiffIDs && !layoutDiffIDs.contains { $0.hasSuffix(" -") }, "\(layoutDiffIDs.prefix(3)) \(savedDiffIDs.prefix(3))")
        #expect(savedDigests == Set(savedDiffIDs.map { String($0.split(separator: " ").last!) }))
        let notDir = try await fathom(["scan", "dir:\(directory)"])
        #expect(notDir.status == 1 && notDir.errorText.contains("has no manifest.json"), "\(notDir.errorText)")
    }

    /// fathom.yaml and FATHOM_* variables: flags override variables, which override the file;
    /// a key no command takes is a warning. --timeout stops a run with an error naming it.
    @Test func aConfigFileAndVariablesSetDefaultsThatFlagsOverride() async throws {
        let directory = try Fixtures.temporaryDirectory("config")
        try "format: json\nlist-all-pkgs: false\nno-such-option: 1\nexit_code: 0\n".write(toFile: directory + "/fathom.yaml", atomically: true, encoding: .utf8)
        let image = "oci:\(layout.directory):gzip"
        let fromFile = try await Tool.run([Fixtures.fathomExecutable, "scan", image], check: false, directory: directory)
        #expect(fromFile.status == 0)
        let document = try JSONSerialization.jsonObject(with: fromFile.stdout) as? [String: Any]
        #expect((document?["packages"] as? [Any])?.isEmpty == true)
        #expect(fromFile.errorText.contains("fathom.yaml: 'no-such-option' is not an option of any fathom command (ignored)\n"), "\(fromFile.errorText)")
        // A key written as YAML often is (`exit_code`) names the option it means.
        #expect(fromFile.errorText.contains("fathom.yaml: 'exit_code' is not an option of any fathom command (ignored); did you mean exit-code?"), "\(fromFile.errorText)")
        var environment = Fixtures.isolatedEnvironment
        environment["FATHOM_FORMAT"] = "table"
        let fromVariable = try await Tool.run([Fixtures.fathomExecutable, "scan", image], environment: environment, check: false, directory: directory)
        #expect(fromVariable.text.hasPrefix("Image:"))
        let fromFlag = try await Tool.run(
            [Fixtures.fathomExecutable, "scan", image, "-f", "json", "--list-all-pkgs"], environment: environment, check: false, directory: directory)
        let flagged = try JSONSerialization.jsonObject(with: fromFlag.stdout) as? [String: Any]
        #expect(((flagged?["packages"] as? [Any])?.count ?? 0) > 10)
        // Another file by --config; one that is not YAML is a usage error naming it.
        try "format: [\n".write(toFile: directory + "/broken.yaml", atomically: true, encoding: .utf8)
        let broken = try await fathom(["scan", image, "--config", directory + "/broken.yaml"])
        #expect(broken.status == 64 && broken.errorText.contains("broken.yaml is not YAML"), "\(broken.errorText)")

        // A bad value from a variable or the file names where it was set, not only the flag nobody typed.
        var badVariable = Fixtures.isolatedEnvironment
        badVariable["FATHOM_EXIT_CODE"] = "abc"
        let fromBadVariable = try await Tool.run([Fixtures.fathomExecutable, "scan", image], environment: badVariable, check: false, directory: directory)
        #expect(
            fromBadVariable.status == 64 && fromBadVariable.errorText.contains("(--exit-code was set by FATHOM_EXIT_CODE)"), "\(fromBadVariable.errorText)")
        // A misspelled variable is warned about, with the one it likely means; the tools' own are not.
        var misspelled = Fixtures.isolatedEnvironment
        misspelled["FATHOM_SEVRITY"] = "CRITICAL"
        misspelled["FATHOM_BENCH_PG_STATEMENTS"] = "1"
        let fromMisspelled = try await Tool.run([Fixtures.fathomExecutable, "scan", image], environment: misspelled, check: false, directory: directory)
        #expect(fromMisspelled.status == 0)
        #expect(fromMisspelled.errorText.contains("FATHOM_SEVRITY is not a setting of fathom scan (ignored); did you mean FATHOM_SEVERITY?"), "\(fromMisspelled.errorText)")
        #expect(!fromMisspelled.errorText.contains("FATHOM_BENCH"), "\(fromMisspelled.errorText)")
        try "severity: [LOUD]\n".write(toFile: directory + "/loud.yaml", atomically: true, encoding: .utf8)
        let fromBadFile = try await fathom(["scan", image, "--config", directory + "/loud.yaml"])
        #expect(fromBadFile.status == 64 && fromBadFile.errorText.contains("was set by \(directory)/loud.yaml)"), "\(fromBadFile.errorText)")

        // Severities and statuses listed in the file (a YAML list, as Trivy's file has them) or
        // repeated on the command line are all of them, as the comma-separated form is: only the
        // last was kept, so a gate on CRITICAL and HIGH checked HIGH alone (here: none).
        let store = directory + "/severities.db"
        let nvd = try await AdvisoryCLITests.nvdFeedFile(in: directory)
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7"), nvd]).status == 0)
        func severities(_ arguments: [String], file: String? = nil) async throws -> [String: Int] {
            var arguments = ["scan", image, "-f", "json", "--store", store] + arguments
            if let file {
                try file.write(toFile: directory + "/severities.yaml", atomically: true, encoding: .utf8)
                arguments += ["--config", directory + "/severities.yaml"]
            }
            let run = try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false, directory: directory)
            #expect(run.status == 0, "\(run.errorText)")
            let document = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
            let findings = (document["vulnerabilities"] as? [[String: Any]]) ?? []
            return Dictionary(grouping: findings.compactMap { $0["severity"] as? String }, by: { $0 }).mapValues(\.count)
        }
        let unfiltered = try await severities([])
        try #require((unfiltered["CRITICAL"] ?? 0) > 0 && unfiltered["HIGH"] == nil, "the image's findings: \(unfiltered)")
        #expect(try await severities([], file: "severity:\n  - CRITICAL\n  - HIGH\n") == unfiltered)
        #expect(try await severities([], file: "severity: [CRITICAL, HIGH]\n") == unfiltered)
        #expect(try await severities([], file: "severity: [HIGH, CRITICAL]\n") == unfiltered, "the first item alone is not all")
        #expect(try await severities(["--severity", "CRITICAL", "--severity", "HIGH"]) == unfiltered)
        #expect(try await severities(["--severity", "HIGH", "--severity", "CRITICAL"]) == unfiltered)
        #expect(try await severities(["--severity", "CRITICAL,HIGH"]) == unfiltered)
        // Every finding here is fixed: leaving out fixed and affected leaves none.
        #expect(try await severities(["--ignore-status", "fixed,affected"]).isEmpty)
        #expect(try await severities([], file: "ignore-status: [fixed, affected]\n").isEmpty)
        #expect(try await severities([], file: "ignore-status: [affected, fixed]\n").isEmpty)
        #expect(try await severities(["--ignore-status", "fixed", "--ignore-status", "affected"]).isEmpty)
        #expect(try await severities(["--ignore-status", "affected", "--ignore-status", "fixed"]).isEmpty)
        // A list for an option that takes one value is that value, comma-separated: an error
        // naming it, not the last item.
        try "format: [json, sarif]\n".write(toFile: directory + "/formats.yaml", atomically: true, encoding: .utf8)
        let formats = try await fathom(["scan", image, "--store", store, "--config", directory + "/formats.yaml"])
        #expect(formats.status == 64 && formats.errorText.contains("json,sarif"), "\(formats.errorText)")
        // One that repeats takes the list's items one by one.
        try "vex: [\(directory)/none-1.json, \(directory)/none-2.json]\n".write(toFile: directory + "/vex.yaml", atomically: true, encoding: .utf8)
        let vex = try await fathom(["scan", image, "--store", store, "--config", directory + "/vex.yaml"])
        #expect(vex.status == 1 && vex.errorText.contains("file \(directory)/none-1.json: ") && !vex.errorText.contains("none-1.json,"), "\(vex.errorText)")

        // -q leaves the report and errors only (the note that Trivy's ignore file is read, too);
        // `-o -` is standard output, not a file named `-`.
        let quietDirectory = try Fixtures.temporaryDirectory("quiet")
        try "CVE-2019-14697\n".write(toFile: quietDirectory + "/.trivyignore", atomically: true, encoding: .utf8)
        let quiet = try await Tool.run(
            [Fixtures.fathomExecutable, "scan", image, "--store", store, "-q", "-f", "json", "-o", "-"], check: false, directory: quietDirectory)
        #expect(quiet.status == 0 && quiet.errorText.isEmpty, "\(quiet.errorText)")
        let quietReport = try #require(try JSONSerialization.jsonObject(with: quiet.stdout) as? [String: Any])
        #expect((quietReport["suppressed"] as? [Any])?.isEmpty == false, "the ignore file was read")
        #expect(!FileManager.default.fileExists(atPath: quietDirectory + "/-"))

        let cut = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--timeout", "0.01s"])
        #expect(cut.status == 1 && cut.errorText.contains("timed out after 0.01s (--timeout)"), "\(cut.errorText)")
        #expect(try await fathom(["scan", image, "--timeout", "soon"]).status == 64)
    }

    /// Errors name the right thing in plain text: a feed archive is a file, not a layer, and its
    /// random bytes never reach the terminal; a registry that refuses is a registry, not an image.
    @Test func errorsNameTheRightThingInPlainText() async throws {
        let directory = try Fixtures.temporaryDirectory("error-words")
        let store = directory + "/fathom.db"
        var noise = [UInt8](repeating: 0, count: 4096)
        for index in noise.indices { noise[index] = UInt8.random(in: 0...255) }
        try Data(noise).write(to: URL(fileURLWithPath: directory + "/noise"))
        try await Tool.run(["gzip", "-kf", directory + "/noise"])
        try FileManager.default.moveItem(atPath: directory + "/noise.gz", toPath: directory + "/feed.tar.gz")
        let feed = try await fathom(["db", "import", "--store", store, directory + "/feed.tar.gz"])
        #expect(feed.status == 1)
        #expect(feed.errorText.contains("file \(directory)/feed.tar.gz") && !feed.errorText.contains("layer sha256"), "\(feed.errorText)")
        #expect(feed.errorText.unicodeScalars.allSatisfy { ($0.value >= 0x20 && $0.value < 0x7F) || $0 == "\n" || $0 == "…" }, "\(feed.errorText)")
        let registry = try await fathom(["registry", "127.0.0.1:1", "--store", store, "--quiet"])
        #expect(registry.status == 1)
        #expect(registry.errorText.contains("registry 127.0.0.1:1: transport: GET http://127.0.0.1:1/v2/_catalog"), "\(registry.errorText)")
        #expect(registry.errorText.contains("connection refused") && !registry.errorText.contains("image 127.0.0.1:1"))
        // A registry named with http:// is plain HTTP, said as such (no TLS to leave unchecked).
        let plain = try await fathom(["registry", "http://127.0.0.1:1", "--store", store, "--quiet"])
        #expect(plain.errorText.contains("127.0.0.1:1: plain HTTP (http://)") && !plain.errorText.contains("TLS certificates"), "\(plain.errorText)")
        // A scan that fails leaves no earlier scan's report at -o for a pipeline to read as its own;
        // a device given as -o is left alone.
        let earlier = directory + "/report.json"
        try #"{"vulnerabilities": []}"#.write(toFile: earlier, atomically: true, encoding: .utf8)
        let failed = try await fathom(["scan", "oci:\(directory)/no-such-layout", "--store", store, "-f", "json", "-o", earlier])
        #expect(failed.status == 1 && !FileManager.default.fileExists(atPath: earlier), "\(failed.errorText)")
        #expect(failed.errorText.contains("removed \(earlier), an earlier scan's report"), "\(failed.errorText)")
        let sbom = try await fathom(["scan", "sbom:\(directory)/no-such.cdx.json", "--store", store, "-o", "/dev/null"])
        #expect(sbom.status == 1 && FileManager.default.fileExists(atPath: "/dev/null") && !sbom.errorText.contains("removed"), "\(sbom.errorText)")
        // Nor a file the scan reads (the SBOM given as its own -o); an ignore file that cannot be
        // read fails the scan before it starts, and the earlier report goes too.
        try "not an SBOM".write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        let sameFile = try await fathom(["scan", "sbom:\(directory)/bad.json", "--store", store, "-o", directory + "/bad.json"])
        #expect(sameFile.status == 1 && FileManager.default.fileExists(atPath: directory + "/bad.json"), "\(sameFile.errorText)")
        let archive = try await fathom(["scan", "docker-archive:\(directory)/bad.json:team/app:1", "--store", store, "-o", directory + "/bad.json"])
        #expect(archive.status == 1 && FileManager.default.fileExists(atPath: directory + "/bad.json"), "\(archive.errorText)")
        try #"{"vulnerabilities": []}"#.write(toFile: earlier, atomically: true, encoding: .utf8)
        let badPolicy = try await fathom(["scan", "oci:\(directory)/no-such-layout", "--store", store, "--ignore-file", directory + "/missing", "-o", earlier])
        #expect(badPolicy.status == 1 && !FileManager.default.fileExists(atPath: earlier), "\(badPolicy.errorText)")
        // A mistyped --store is said as the new store it made, not only as "no scans"; the
        // store --store names is made by db import without a word.
        let typo = try await fathom(["rescan", "--store", "sqlite:\(directory)/fathon.db"])
        #expect(typo.errorText.contains("note: there was no store at \(directory)/fathon.db: a new, empty one was made (is --store mistyped?)"), "\(typo.errorText)")
        let again = try await fathom(["rescan", "--store", "\(directory)/fathon.db"])
        #expect(!again.errorText.contains("no store at"), "\(again.errorText)")
        let imported = try await fathom(["db", "import", "--store", directory + "/new.db", Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path])
        #expect(imported.status == 0 && !imported.errorText.contains("no store at"), "\(imported.errorText)")
    }

    /// A mistyped command is named as one (it was said to be its first option: `fathom scna
    /// --store x` answered "Unknown option '--store'"), with the command it is likely to mean.
    @Test func aMistypedCommandIsNamed() async throws {
        let typo = try await fathom(["scna", "--store", "x", "y"])
        #expect(typo.status == 64 && typo.errorText.contains("Unknown command 'scna'. Did you mean 'scan'?"), "\(typo.errorText)")
        let unknown = try await fathom(["frobnicate"])
        #expect(unknown.status == 64 && unknown.errorText.contains("Unknown command 'frobnicate'.\n"), "\(unknown.errorText)")
        #expect(try await fathom(["help", "scan"]).status == 0)
    }

    /// skopeo's `oci:DIR:REF` with a reference that holds a ':' itself (containerd's ref names,
    /// `busybox:1.38.0-glibc`); a layout of several untagged-by-platform images asks for a tag,
    /// not a --platform it cannot use; an index that lists nothing says so.
    @Test func layoutReferencesAreReadAsSkopeoReadsThem() async throws {
        let store = try Fixtures.temporaryDirectory("layout-refs") + "/fathom.db"
        let busybox = Fixtures.image("busybox-oci/busybox-latest-glibc-amd64")
        let named = try await fathom(["scan", "oci:\(busybox):busybox:1.38.0-glibc", "--store", store, "-f", "json"])
        #expect(named.status == 0, "\(named.errorText)")
        let untagged = try await fathom(["scan", "oci:" + Fixtures.image("ggcr-fixtures/layouts/test_index"), "--store", store])
        #expect(
            untagged.status == 1 && untagged.errorText.contains("holds 4 images and names no platform for them: choose one by its tag")
                && untagged.errorText.contains("it has 1, 2, 3, 4") && !untagged.errorText.contains("--platform"), "\(untagged.errorText)")
        let tagged = try await fathom(["scan", "oci:" + Fixtures.image("ggcr-fixtures/layouts/test_index") + ":1", "--store", store, "-f", "json"])
        #expect(tagged.status == 0, "\(tagged.errorText)")
        // A tag that is a whole name wins over names that end in it; two names ending in a tag are named.
        let renamed = try Fixtures.temporaryDirectory("layout-renamed") + "/layout"
        try FileManager.default.copyItem(atPath: Fixtures.image("ggcr-fixtures/layouts/test_index"), toPath: renamed)
        let index = try String(contentsOfFile: renamed + "/index.json", encoding: .utf8)
            .replacingOccurrences(of: #"ref.name": "2""#, with: #"ref.name": "lay:1""#)
            .replacingOccurrences(of: #"ref.name": "3""#, with: #"ref.name": "a:9""#)
            .replacingOccurrences(of: #"ref.name": "4""#, with: #"ref.name": "b:9""#)
        try index.write(toFile: renamed + "/index.json", atomically: true, encoding: .utf8)
        let whole = try await fathom(["scan", "oci:\(renamed):1", "--store", store, "-f", "json"])
        #expect(whole.status == 0 && whole.text.contains("sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"), "\(whole.errorText)")
        let two = try await fathom(["scan", "oci:\(renamed):9", "--store", store])
        #expect(
            two.status == 1 && two.errorText.contains("the layout has 2 images whose names end in '9' (a:9, b:9): choose one by its whole name"),
            "\(two.errorText)")
        let empty = try await fathom(["scan", "oci-archive:" + Fixtures.image("ggcr-fixtures/hello-world-v25.tar"), "--store", store])
        #expect(empty.status == 1 && empty.errorText.contains("the index lists no image"), "\(empty.errorText)")
    }

    /// Counts and exit codes out of range are usage errors (64), never a hang (0 connections)
    /// or a wrapped exit status (300 would exit 44).
    @Test(arguments: [
        (["scan", "x/y:1", "--registry-connections", "0"], "--registry-connections must be at least 1"),
        (["scan", "x/y:1", "--exit-code", "300"], "--exit-code must be 0 to 255 (a process exit status), not 300"),
        (["scan", "x/y:1", "--exit-code=-1"], "--exit-code must be 0 to 255"),
        (["scan", "x/y:1", "--exit-code", "-1"], "--exit-code must be 0 to 255 (a process exit status), not -1"),
        (["scan", "x/y:1", "--layer-concurrency", "0"], "--layer-concurrency must be at least 1"),
        (["registry", "127.0.0.1:1", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["registry", "127.0.0.1:1", "--top", "0"], "--top must be at least 1"),
        (["registry", "127.0.0.1:1", "--pushed-since", "30x"], "'30x' is neither a duration"),
        (["scan", "x/y:1", "-o", "/nonexistent-fathom/out.json"], "--output /nonexistent-fathom/out.json: no directory /nonexistent-fathom to write the report in"),
        (["registry", "http://127.0.0.1:1/team/app/", "--store", "/dev/null/s.db"], "give the registry alone (127.0.0.1:1) and pick repositories with --repo team/app"),
        (["rescan", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["scan", "sbom:x.json", "--os", "alpine"], "--os takes ID:VERSION (debian:12, alpine:3.20), not 'alpine'"),
        (["serve", "--notify-url", "http://bob:s3cret@127.0.0.1:1/hook"], "--notify-url must not carry a user or password"),
    ])
    func outOfRangeCountsAreUsageErrors(_ arguments: [String], _ expected: String) async throws {
        let output = try await fathom(arguments)
        #expect(output.status == 64, "\(arguments)")
        #expect(output.errorText.contains(expected), "\(output.errorText)")
    }

    /// --platform asked of a single-platform image of another platform is an error naming what
    /// the image is; without --platform, such an image is scanned as it is.
    @Test func anAskedPlatformTheImageLacksIsAnError() async throws {
        let amd64 = try await fathom(["scan", "\(registry.host)/alpine:3.7", "--platform", "linux/arm64"])
        #expect(amd64.status == 1)
        #expect(amd64.errorText.contains("the image is linux/amd64 only (one manifest, no index); --platform linux/arm64 is not in it"), "\(amd64.errorText)")
        #expect(try await fathom(["scan", "\(registry.host)/alpine:3.7", "--platform", "linux/amd64"]).status == 0)
        let arm64 = try await fathom(["scan", "\(registry.host)/alpine:3.20-zstd", "-f", "json"])
        #expect(arm64.status == 0, "\(arm64.errorText)")
    }

    /// A store this user may only read: `db stats`, `db status` and `version` read it (as
    /// immutable, leaving no -shm or -wal beside it); a command that writes says the store is
    /// read-only for this user. As root the reader is `nobody` (setpriv), the file root's.
    @Test func aStoreThisUserMayOnlyReadIsReadNotRefused() async throws {
        let directory = try Fixtures.temporaryDirectory("read-only-store")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")]).status == 0)
        let binary = directory + "/fathom"
        try FileManager.default.copyItem(atPath: Fixtures.fathomExecutable, toPath: binary)
        var prefix: [String] = []
        if getuid() == 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: store)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        } else {
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: store)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory)
        }
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory) }
        let stats = try await Tool.run(prefix + [binary, "db", "stats", "--store", store], check: false)
        #expect(stats.status == 0 && stats.text.contains("alpine-secdb-v3.7-main"), "\(stats.errorText)")
        let status = try await Tool.run(prefix + [binary, "db", "status", "--store", store], check: false)
        #expect(status.status == 0, "\(status.errorText)")
        let version = try await Tool.run(prefix + [binary, "version", "--store", store], check: false)
        #expect(version.text.contains("1073 records from 1 feeds"), "\(version.text)\(version.errorText)")
        let write = try await Tool.run(prefix + [binary, "db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")], check: false)
        #expect(write.status == 1 && write.errorText.contains("is read-only for this user"), "\(write.errorText)")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == ["fathom", "fathom.db"], "\(left)")
    }

    /// `fathom version` and `fathom --version`: the version and how old the advisory data is;
    /// a usage error exits 64, as the README says.
    @Test func versionSaysHowOldTheAdvisoryDataIs() async throws {
        let directory = try Fixtures.temporaryDirectory("version")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")]).status == 0)
        let output = try await fathom(["version", "--store", store])
        #expect(output.status == 0)
        #expect(output.text.hasPrefix("fathom \(FathomVersionInfo.version)\nAdvisory data: version "))
        #expect(output.text.contains("records from 1 feeds") && output.text.contains("h ago)"))
        // --version with no store yet: says so, and creates none.
        var environment = Fixtures.isolatedEnvironment
        environment["XDG_CACHE_HOME"] = directory + "/cache"
        let bare = try await Tool.run([Fixtures.fathomExecutable, "--version"], environment: environment, check: false)
        #expect(bare.status == 0 && bare.text.contains("Advisory data: none (no store at \(directory)/cache/fathom/fathom.db"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/cache/fathom/fathom.db"))
        #expect(try await fathom(["scan", "--no-such-flag", "x"]).status == 64)
    }

    @Test func missingTagNamesTheImage() async throws {
        let output = try await fathom(["scan", "\(registry.host)/alpine:missing"])
        #expect(output.status == 1)
        #expect(output.errorText.hasPrefix("fathom: error: image \(registry.host)/alpine:missing: not found"))
        #expect(output.errorText.contains("MANIFEST_UNKNOWN"))
    }

    @Test func passwordFromStandardInput() async throws {
        let basic = try await RegistryAuthTests.basicFixture.value
        let ok = try await fathom(
            ["scan", "\(basic.host)/team/busybox:1", "--username", RegistryAuthTests.user, "--password-stdin"],
            input: RegistryAuthTests.password + "\n")
        #expect(ok.status == 0, "\(ok.errorText)")
        let refused = try await fathom(
            ["scan", "\(basic.host)/team/busybox:1", "--username", RegistryAuthTests.user, "--password-stdin"], input: "wrong\n")
        #expect(refused.status == 1)
        #expect(refused.errorText.contains("unauthorized"))
        #expect(!refused.errorText.contains("wrong"))  // never echo a secret
    }
}
