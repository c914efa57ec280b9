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
        #expect(document["schemaVersion"] as? Int == 2)
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

    @Test func tableFormatAndPlatformFlag() async throws {
        let output = try await fathom(["scan", "\(registry.host)/alpine:multi", "--platform", "linux/arm64"])
        #expect(output.status == 0, "\(output.errorText)")
        #expect(output.text.contains("Alpine Linux v3.20"))
        #expect(output.text.contains("zstd"))
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
        (["scan", "127.0.0.1:1/nothing:here"], "image 127.0.0.1:1/nothing:here: transport"),
        (["scan", "docker-archive:/nonexistent.tar"], "cannot open"),
        (["scan", "oci:/nonexistent-layout"], "no OCI layout directory"),
    ])
    func failuresAreOneLineAndNonZero(_ arguments: [String], _ expected: String) async throws {
        let output = try await fathom(arguments)
        #expect(output.status != 0)
        #expect(output.stdout.isEmpty)
        #expect(output.errorText.contains(expected), "\(output.errorText)")
        #expect(output.errorText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count <= 2)
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
