import FathomCore
import FathomOCI
import Testing

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("alpine", "index.docker.io/library/alpine:latest"),
        ("alpine:3.19", "index.docker.io/library/alpine:3.19"),
        ("docker.io/alpine", "index.docker.io/library/alpine:latest"),
        ("docker.io/library/alpine:3", "index.docker.io/library/alpine:3"),
        ("registry-1.docker.io/bitnami/redis", "index.docker.io/bitnami/redis:latest"),
        ("user/repo", "index.docker.io/user/repo:latest"),
        ("ghcr.io/org/team/app:v1.2.3", "ghcr.io/org/team/app:v1.2.3"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        (
            "host:5000/a/b@sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc",
            "host:5000/a/b@sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc"
        ),
        (
            "quay.io/a/b:t@sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc",
            "quay.io/a/b:t@sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc"
        ),
        ("127.0.0.1:5000/my_app/x-y__z.w", "127.0.0.1:5000/my_app/x-y__z.w:latest"),
    ])
    func normalises(_ input: String, _ expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func splitsParts() async throws {
        let reference = try ImageReference(
            parsing: "host:5000/a/b@sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc")
        #expect(reference.registry == "host:5000")
        #expect(reference.repository == "a/b")
        #expect(reference.tag == nil)
        #expect(reference.manifestReference.hasPrefix("sha256:"))
        #expect(try ImageReference(parsing: "alpine").apiHost == "registry-1.docker.io")
    }

    @Test(arguments: [
        "", "UPPER/case", "a//b", ":tag", "repo:", "repo@sha256:abc", "repo:-bad", "-a/b", "a_/b", "a/b.",
        "host:5000/a/b:" + String(repeating: "t", count: 129), "a b",
    ])
    func rejects(_ input: String) {
        #expect(throws: FathomError.self) { try ImageReference(parsing: input) }
    }

    @Test func platforms() async throws {
        let arm = try Platform(parsing: "linux/arm64/v8")
        #expect(arm.variant == "v8")
        #expect(Platform(os: "linux", architecture: "arm64").matches(arm))
        #expect(arm.matches(Platform(os: "linux", architecture: "arm64")))
        #expect(!Platform.linuxAMD64.matches(arm))
        #expect(throws: FathomError.self) { try Platform(parsing: "linux") }
        #expect(throws: FathomError.self) { try Platform(parsing: "linux//v7") }
    }
}

@Suite struct ManifestTests {
    let layer = "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc"

    @Test func decodesManifestAndIndex() async throws {
        let manifest = """
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
             "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":10,"digest":"\(layer)"},
             "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":5,"digest":"\(layer)"}]}
            """
        guard case .manifest(let decoded) = try ManifestDocument.decode(Array(manifest.utf8), mediaType: nil) else {
            Issue.record("not a manifest")
            return
        }
        #expect(decoded.layers.first?.mediaType.layerCompression == .gzip)

        let index = """
            {"schemaVersion":2,"manifests":[
             {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"\(layer)","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
             {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"\(layer)","platform":{"os":"linux","architecture":"amd64"}}]}
            """
        guard case .index(let decodedIndex) = try ManifestDocument.decode(Array(index.utf8), mediaType: .ociIndex) else {
            Issue.record("not an index")
            return
        }
        #expect(try decodedIndex.manifest(for: .linuxAMD64).platform?.architecture == "amd64")
        #expect(try decodedIndex.manifest(for: Platform(parsing: "linux/arm64")).platform?.variant == "v8")
        let error = #expect(throws: FathomError.self) { try decodedIndex.manifest(for: Platform(parsing: "linux/s390x")) }
        #expect(error?.code == .noMatchingPlatform)
        #expect(error?.message.contains("linux/arm64/v8") == true)
    }

    @Test(arguments: [
        ("not json at all", FathomError.Code.invalidManifest),
        (#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#, FathomError.Code.unsupported),
        (#"{"schemaVersion":2,"config":{}}"#, FathomError.Code.invalidManifest),
        (#"[1,2,3]"#, FathomError.Code.invalidManifest),
    ])
    func rejectsBadDocuments(_ text: String, _ code: FathomError.Code) {
        let error = #expect(throws: FathomError.self) { try ManifestDocument.decode(Array(text.utf8), mediaType: nil) }
        #expect(error?.code == code)
    }

    @Test func mediaTypes() {
        #expect(MediaType.ociLayerZstd.layerCompression == .zstd)
        #expect(MediaType.dockerLayerTar.layerCompression == .uncompressed)
        #expect(MediaType.ociLayerNondistributableGzip.isNondistributable)
        #expect(MediaType.dockerForeignLayerGzip.isNondistributable)
        #expect(MediaType.dockerManifestList.isIndex)
    }
}
