import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomTestSupport
import Foundation
import Testing

/// OCI layouts and `docker save` archives resolve to what their truth files state, and their
/// layers merge with OCI whiteout rules into the flattened trees the truth files list.
@Suite(.timeLimit(.minutes(2))) struct SourceTests {
    nonisolated(unsafe) static let ggcrTruth = try! Fixtures.json(Fixtures.image("ggcr-fixtures/ggcr-fixtures.truth.json")) as! [String: Any]
    static var archives: [String: Any] { ggcrTruth["archives"] as! [String: Any] }

    /// (archive, image index in its manifest.json) for every archive that holds images.
    static let archiveImages: [(String, Int)] = {
        var cases: [(String, Int)] = []
        for name in ["whiteout_image.tar", "whiteout_dir.tar", "overwritten_file.tar", "test_image_1.tar", "test_bundle.tar", "test_link.tar"] {
            let images = (archives[name] as! [String: Any])["images"] as! [[String: Any]]
            for index in images.indices { cases.append((name, index)) }
        }
        return cases
    }()

    @Test(arguments: archiveImages)
    func dockerArchiveMatchesTruth(_ archive: String, _ index: Int) async throws {
        let truth = (Self.archives[archive] as! [String: Any])["images"] as! [[String: Any]]
        let image = truth[index]
        let selector = truth.count > 1 ? "@\(index)" : nil
        let source = try DockerArchiveSource(path: Fixtures.image("ggcr-fixtures/\(archive)"), selector: selector)
        let result = try await ImageScanner(claims: .everything()).scan(source)
        #expect(result.image.configDigest.description == image["imageID"] as? String)
        #expect(result.image.layers.map { $0.diffID?.description } == (image["configDiffIDs"] as! [String]))
        let truthLayers = image["layers"] as! [[String: Any]]
        #expect(result.layers.map(\.facts.summary.digest.description) == truthLayers.map { $0["sha256"] as! String })
        #expect(result.layers.map(\.facts.summary.compressedSize) == truthLayers.map { Int64($0["size"] as! Int) })

        // The merged tree equals the truth's flattened tree (files and symlinks; fathom keeps no directories).
        let flattened = (image["flattened"] as! [[String: Any]]).filter { ($0["type"] as! String) != "dir" }
        var expected: [String: String] = [:]
        for entry in flattened {
            expected[entry["path"] as! String] =
                entry["type"] as! String == "symlink" ? "-> \(entry["linkname"] as! String)" : (entry["content"] as? String ?? "")
        }
        var actual: [String: String] = [:]
        for (path, entry) in result.filesystem.entries {
            actual[path] = entry.fact.kind == .symlink ? "-> \(entry.fact.linkTarget ?? "")" : (entry.fact.text ?? "")
        }
        #expect(actual == expected)
    }

    @Test(arguments: ["no_manifest.tar", "null_manifest.tar"])
    func brokenArchivesFailWithAClearError(_ archive: String) async throws {
        let path = Fixtures.image("ggcr-fixtures/\(archive)")
        let error = await #expect(throws: FathomError.self) {
            try await DockerArchiveSource(path: path).resolve(platform: .linuxAMD64)
        }
        #expect(error?.code == .invalidManifest)
        #expect(error?.image == "docker-archive:\(path)")
        #expect(error?.description.contains("manifest.json") == true)
    }

    /// A `docker save` archive cut short (a copy that stopped) is truncated, naming the member
    /// it ends inside: it was read as an archive without its manifest.json, or, with its
    /// manifest.json first, scanned clean from a cache that knew its layers.
    @Test func aTruncatedArchiveSaysSo() async throws {
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.image("ggcr-fixtures/test_image_1.tar"))))
        let path = try Fixtures.temporaryDirectory("cut-archive") + "/cut.tar"
        try Data(whole.prefix(whole.count * 6 / 10)).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: FathomError.self) { try DockerArchiveSource(path: path) }
        #expect(error?.code == .truncated, "\(String(describing: error))")
        #expect(error?.message.contains("the archive ends at byte \(whole.count * 6 / 10), inside its member") == true, "\(String(describing: error))")
    }

    @Test func archiveWithSeveralImagesAsksWhichOne() async throws {
        let path = Fixtures.image("ggcr-fixtures/test_bundle.tar")
        let error = await #expect(throws: FathomError.self) {
            try await DockerArchiveSource(path: path).resolve(platform: .linuxAMD64)
        }
        #expect(error?.message.contains("test_image_2") == true)
        let byTag = try await DockerArchiveSource(path: path, selector: "test_image_1").resolve(platform: .linuxAMD64)
        #expect(byTag.repoTags == ["test_image_1"])
        // An index past the last names the images and their indexes.
        let past = await #expect(throws: FathomError.self) {
            try await DockerArchiveSource(path: path, selector: "@5").resolve(platform: .linuxAMD64)
        }
        #expect(past?.message.contains("the archive has no image '@5'; it has 2: test_image_2 (@0); test_image_1 (@1)") == true, "\(past?.message ?? "")")
    }

    /// ggcr's Docker 25 archive has an OCI layout whose index.json says `"manifests": null`:
    /// fathom falls back to manifest.json, taking digests from the blob paths and media types
    /// from `LayerSources`.
    @Test func docker25ArchiveWithAnEmptyIndexFallsBackToManifestJSON() async throws {
        let truth = (Self.archives["hello-world-v25.tar"] as! [String: Any])
        let image = (truth["images"] as! [[String: Any]])[0]
        let source = try DockerArchiveSource(path: Fixtures.image("ggcr-fixtures/hello-world-v25.tar"))
        let result = try await ImageScanner().scan(source)
        #expect(result.image.manifestDigest == nil)
        #expect(result.image.layers.map(\.mediaType) == [.ociLayer])
        #expect(result.image.configDigest.description == image["imageID"] as? String)
        #expect(result.layers.map { $0.layer.digest?.description } == (image["configDiffIDs"] as! [String]))
        #expect(result.layers[0].facts.summary.fileCount == 1)
    }

    @Test(arguments: ["alpine-310", "alpine-311"])
    func trivyDockerSaveArchives(_ name: String) async throws {
        let truth = try Fixtures.json(Fixtures.image("trivy-docker-save/\(name).truth.json")) as! [String: Any]
        let source = try DockerArchiveSource(path: Fixtures.image("trivy-docker-save/\(name).tar.gz"))
        let result = try await ImageScanner().scan(source)
        #expect(result.image.configDigest.description == truth["imageID"] as? String)
        #expect(result.image.layers.map { $0.diffID?.description } == (truth["configDiffIDs"] as! [String]))
        #expect(result.image.repoTags == (truth["repoTags"] as? [String] ?? (truth["manifest"] as! [[String: Any]])[0]["RepoTags"] as! [String]))
        #expect(result.os?.id == "alpine")
        let release = truth["alpineRelease"] as? String
        #expect(result.os?.versionID == release?.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(result.os?.namespace == (name == "alpine-310" ? "Alpine:v3.10" : "Alpine:v3.11"))
    }

    @Test func busyboxOCILayoutsMatchTruth() async throws {
        let truth = try Fixtures.json(Fixtures.image("busybox-oci/busybox-oci.truth.json")) as! [String: Any]
        for layout in truth["layouts"] as! [[String: Any]] {
            let source = try OCILayoutSource(directory: Fixtures.image("busybox-oci/\(layout["dir"] as! String)"))
            let result = try await ImageScanner().scan(source)
            #expect(result.image.manifestDigest?.description == layout["manifestDigest"] as? String)
            #expect(result.image.configDigest.description == layout["configDigest"] as? String)
            #expect(result.image.layers.map { $0.digest?.description } == [layout["layerDigest"] as? String])
            #expect(result.image.layers.map { $0.diffID?.description } == [layout["diffID"] as? String])
            #expect(result.image.platform?.description == "linux/amd64")
            #expect(result.os == nil)  // busybox has no os-release
            // The ref name annotation selects the same image.
            let tagged = try OCILayoutSource(directory: Fixtures.image("busybox-oci/\(layout["dir"] as! String)"), tag: layout["refName"] as? String)
            #expect(try await tagged.resolve(platform: .linuxAMD64).manifestDigest == result.image.manifestDigest)
        }
    }

    @Test(arguments: ["1", "2", "3", "4"])
    func ggcrIndexLayoutSelectsByTagAndFollowsNestedIndexes(_ tag: String) async throws {
        let layouts = Self.ggcrTruth["layouts"] as! [String: Any]
        let index = (layouts["test_index"] as! [String: Any])["index"] as! [String: Any]
        let entry = (index["manifests"] as! [[String: Any]]).first { ($0["annotations"] as? [String: String])?[Descriptor.refNameAnnotation] == tag }!
        let source = try OCILayoutSource(directory: Fixtures.image("ggcr-fixtures/layouts/test_index"), tag: tag)
        // Tags 3 and 4 are nested indexes (OCI and Docker list) holding tag 1's manifest, without platforms.
        let resolved = try await source.resolve(platform: .linuxAMD64)
        let mediaType = entry["mediaType"] as! String
        if mediaType.contains("index") || mediaType.contains("list") {
            #expect(resolved.indexDigest?.description == entry["digest"] as? String)
            #expect(resolved.manifestDigest?.description == "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650")
        } else {
            #expect(resolved.manifestDigest?.description == entry["digest"] as? String)
        }
        let missing = try OCILayoutSource(directory: Fixtures.image("ggcr-fixtures/layouts/test_index"), tag: "nope")
        let error = await #expect(throws: FathomError.self) { try await missing.resolve(platform: .linuxAMD64) }
        #expect(error?.code == .notFound)
    }

    @Test func missingLayoutIsNotFound() async throws {
        let error = #expect(throws: FathomError.self) { try OCILayoutSource(directory: "/nonexistent/layout") }
        #expect(error?.code == .notFound)
    }

    @Test func alpineMinirootfsOSRelease() async throws {
        for version in ["3.7.3", "3.20.3"] {
            let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.truth.json")) as! [String: Any]
            let path = Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.tar.gz")
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            var collector = LayerFactsCollector()
            // The truth's diffID is checked by hashing the decompressed stream.
            let summary = try await LayerReader.read(
                .memory(bytes),
                expecting: LayerExpectation(
                    digest: Digest.sha256(of: bytes), size: Int64(bytes.count), diffID: try Digest(parsing: truth["diffID"] as! String)),
                handler: &collector)
            #expect(summary.digest.encoded == truth["sha256"] as? String)
            #expect(summary.entryCount == truth["tarEntries"] as? Int)
            let os = OSRelease.detect(in: MergedFilesystem(layers: [collector.facts(summary)]))
            let expected = truth["osRelease"] as? [String: String] ?? [:]
            #expect(os?.id == "alpine")
            #expect(os?.versionID == expected["VERSION_ID"])
            #expect(os?.prettyName == expected["PRETTY_NAME"])
        }
    }
}
