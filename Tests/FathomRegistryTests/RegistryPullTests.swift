import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
@testable import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// Pulls from a real `docker-registry` on loopback, images pushed with `skopeo copy`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RegistryPullTests {
    /// One registry for the suite, started on first use (its watcher stops it with the process).
    static let shared = SharedFixture {
        let registry = try await LocalRegistry()
        let layout = try await TestImages.layout().directory
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "library/busybox", tag: "musl")
        try await registry.push("oci:\(layout):gzip", to: "alpine", tag: "3.7")
        try await registry.push("oci:\(layout):zstd", to: "alpine", tag: "3.20-zstd")
        try await registry.push("oci:\(layout):multi", to: "alpine", tag: "multi", all: true)
        return registry
    }

    let registry: LocalRegistry
    let layout: TestLayout

    init() async throws { (registry, layout) = try await TestImages.sharedRegistry() }

    @Test func pullsTheImageSkopeoPushed() async throws {
        let truth = try Fixtures.json(Fixtures.image("busybox-oci/busybox-oci.truth.json")) as! [String: Any]
        let musl = (truth["layouts"] as! [[String: Any]]).first { ($0["dir"] as! String).contains("musl") }!
        let result = try await withClient(try registry.client()) { client in
            try await ImageScanner().scan(RegistryImageSource(reference: try registry.reference("library/busybox", "musl"), client: client))
        }
        #expect(result.image.manifestDigest?.description == musl["manifestDigest"] as? String)
        #expect(result.image.configDigest.description == musl["configDigest"] as? String)
        #expect(result.layers.map(\.facts.summary.digest.description) == [musl["layerDigest"] as! String])
        #expect(result.layers[0].facts.summary.compression == .gzip)
        // The registry's own access log shows one GET of the layer, under fathom's user agent.
        let layer = musl["layerDigest"] as! String
        #expect(registry.blobGETCount(digest: layer) == 1)
        #expect(registry.logLines().contains { $0.contains(layer) && $0.contains("fathom/") && $0.contains("(scan ") })
    }

    @Test func readsZstdLayers() async throws {
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.truth.json")) as! [String: Any]
        let result = try await withClient(try registry.client()) { client in
            // The zstd image is arm64 only: ask for that platform.
            try await ImageScanner(platform: Platform(parsing: "linux/arm64"))
                .scan(RegistryImageSource(reference: try registry.reference("alpine", "3.20-zstd"), client: client))
        }
        #expect(result.layers[0].layer.mediaType == .ociLayerZstd)
        #expect(result.layers[0].facts.summary.compression == .zstd)
        #expect(result.layers[0].facts.summary.entryCount == truth["tarEntries"] as? Int)
        #expect(result.layers[0].layer.diffID?.description == truth["diffID"] as? String)
        #expect(result.os?.versionID == "3.20.3")
        #expect(result.os?.namespace == "Alpine:v3.20")
    }

    @Test func selectsThePlatformFromAMultiPlatformIndex() async throws {
        try await withClient(try registry.client()) { client in
            let source = RegistryImageSource(reference: try registry.reference("alpine", "multi"), client: client)
            let amd64 = try await ImageScanner().scan(source)
            #expect(amd64.image.manifestDigest?.description == layout.gzip.manifestDigest)
            #expect(amd64.image.indexDigest != nil)
            #expect(amd64.os?.versionID == "3.7.3")
            let arm64 = try await ImageScanner(platform: Platform(parsing: "linux/arm64/v8")).scan(source)
            #expect(arm64.image.manifestDigest?.description == layout.zstd.manifestDigest)
            #expect(arm64.os?.versionID == "3.20.3")
            let error = await #expect(throws: FathomError.self) {
                try await ImageScanner(platform: Platform(parsing: "linux/s390x")).scan(source)
            }
            #expect(error?.code == .noMatchingPlatform)
            #expect(error?.image == "\(registry.host)/alpine:multi")
            #expect(error?.message.contains("linux/arm64/v8") == true)
        }
    }

    @Test func pullsByDigestAndChecksIt() async throws {
        try await withClient(try registry.client()) { client in
            let byDigest = try ImageReference(parsing: "\(registry.host)/alpine@\(layout.gzip.manifestDigest)")
            let image = try await RegistryImageSource(reference: byDigest, client: client).resolve(platform: .linuxAMD64)
            #expect(image.manifestDigest?.description == layout.gzip.manifestDigest)

            let unknown = try ImageReference(parsing: "\(registry.host)/alpine@sha256:\(String(repeating: "0", count: 64))")
            let error = await #expect(throws: FathomError.self) {
                try await RegistryImageSource(reference: unknown, client: client).resolve(platform: .linuxAMD64)
            }
            #expect(error?.code == .notFound)
            #expect((error?.cause as? RegistryErrorBody)?.errors.first?.code == "MANIFEST_UNKNOWN")
        }
    }

    @Test func missingTagAndRepositoryAreNotFound() async throws {
        try await withClient(try registry.client()) { client in
            for reference in [try registry.reference("alpine", "nope"), try registry.reference("no/such/repo", "x")] {
                let error = await #expect(throws: FathomError.self) {
                    try await RegistryImageSource(reference: reference, client: client).resolve(platform: .linuxAMD64)
                }
                #expect(error?.code == .notFound)
                #expect(error?.image == reference.description)
                let code = (error?.cause as? RegistryErrorBody)?.errors.first?.code
                #expect(code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN")
            }
        }
    }

    @Test func listsCatalogAndTagsAcrossPages() async throws {
        // A registry of its own: other suites push to the shared one.
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        for (repository, tag) in [("alpine", "3.7"), ("alpine", "edge"), ("alpine", "latest"), ("library/busybox", "musl"), ("team/app", "1")] {
            try await registry.push("oci:\(TestImages.busyboxMusl)", to: repository, tag: tag)
        }
        try await withClient(try registry.client()) { client in
            let repositories = try await client.catalog(registry.host, pageSize: 1)
            #expect(repositories.sorted() == ["alpine", "library/busybox", "team/app"])
            let tags = try await client.tags(registry.host, repository: "alpine", pageSize: 1)
            #expect(tags.sorted() == ["3.7", "edge", "latest"])
            let unpaged = try await client.catalog(registry.host)
            #expect(unpaged.sorted() == repositories.sorted())
        }
        // One page per entry (the registry links to one more, empty, page after a full last one).
        let pages = registry.logLines().filter { $0.contains("\"GET /v2/_catalog?") && $0.contains(/n=1[ &]/) }.count
        #expect((3...4).contains(pages))
    }

    @Test func nextLinkParsing() {
        #expect(RegistryClient.nextLink(#"</v2/_catalog?last=b&n=1>; rel="next""#) == "/v2/_catalog?last=b&n=1")
        #expect(RegistryClient.nextLink(#"<https://r.example/v2/x/tags/list?n=2&last=t>; rel=next"#) == "/v2/x/tags/list?n=2&last=t")
        #expect(RegistryClient.nextLink(#"</v2/a>; rel="prev""#) == nil)
    }
}
