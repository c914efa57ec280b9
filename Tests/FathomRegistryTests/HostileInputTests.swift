import FathomCore
import FathomOCI
import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// Layers and documents an attacker pushes to a registry fathom scans: decompression bombs,
/// lying tar headers, escaping paths, link loops, giant documents, deep JSON. Each is pushed to
/// a real `docker-registry` and scanned by the `fathom` executable; each must end in a clear
/// error or warning naming the image and the layer, with memory bounded, nothing cached, and
/// the rest of the fleet scanned.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileInputTests {
    /// What a hostile image must yield from `fathom scan`.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// Text the error (exit 1) must hold, or nil when the scan must succeed.
        var error: String?
        /// Text a report warning must hold.
        var warning: String?
        var arguments: [String] = []
        /// Whether the store must stay empty (an image over its total is made of verified layers,
        /// which may be kept).
        var storesNothing = true
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "gzip-bomb", error: "decompression bomb"),
        Case(name: "gzip-bomb", error: "the layer expands past 1 GiB (--max-layer-bytes)", arguments: ["--max-expansion-ratio", "100000", "--max-layer-bytes", "1GiB"]),
        Case(name: "zstd-bomb", error: "decompression bomb"),
        Case(name: "zstd-forged-size", error: "corrupt compressed stream: zstd stream is corrupt"),
        Case(name: "tar-claims-1tb", error: "the tar entry claims 1099511627776 bytes"),
        Case(name: "pax-1gb", error: "tar extended header of 1073741824 bytes is over the 1048576-byte limit"),
        Case(name: "many-entries", error: "more than 10000 tar entries (--max-layer-entries)", arguments: ["--max-layer-entries", "10000"]),
        Case(name: "not-a-tar", error: "corrupt tar"),
        Case(name: "gzip-trailing-garbage", error: "unexpected bytes after the end of the gzip stream"),
        Case(name: "huge-pkgdb", error: "decompression bomb"),
        Case(
            name: "huge-pkgdb", warning: "lib/apk/db/installed: 1 GiB is over the 64 MiB limit for this file (--max-file-bytes); not read, so the packages it lists are not in this report",
            arguments: ["--max-expansion-ratio", "100000"]),
        Case(name: "escaping-paths", warning: "2 tar entries are named above the layer's root (first: '../../../etc/os-release')"),
        Case(name: "link-loop", warning: "etc/os-release: the symbolic link to 'os-release' leads to no file fathom read"),
        Case(name: "dangling-hard-link", warning: "lib/apk/db/installed: the hard link to 'nowhere/installed' leads to no file fathom read"),
        Case(name: "layers-2000", error: "the image has 2000 layers, more than 1000 (--max-image-layers)"),
        Case(name: "layers-100000", error: "the manifest is 15900248 bytes, over the 4194304-byte document limit"),
        Case(name: "config-64mib", error: "too large to read whole"),
        Case(name: "config-size-lie", error: "is not the 300 bytes its descriptor states"),
        Case(name: "deep-json-config", error: "invalid manifest"),
        Case(name: "image-bytes", error: "the image's layers expand past 2 MiB together (--max-image-bytes)", arguments: ["--max-image-bytes", "2MiB"], storesNothing: false),
    ]

    static let fixture = SharedFixture { try await pushHostileImages() }

    let registry: LocalRegistry
    /// An OCI layout holding the one attack the registry itself refuses.
    let layout: String
    init() async throws { (registry, layout) = try await Self.fixture.value }

    func image(_ name: String) -> String {
        name == "layers-100000" ? "oci:\(layout):1" : "\(registry.host)/hostile/\(name):1"
    }

    func fathom(_ arguments: [String]) async throws -> (output: ProcessOutput, peakRSS: Int) {
        try await Tool.runMeasuringPeakRSS([Fixtures.fathomExecutable] + arguments, environment: Fixtures.isolatedEnvironment)
    }

    @Test(arguments: cases) func eachAttackEndsInANamedErrorOrWarningWithMemoryBounded(_ attack: Case) async throws {
        let store = try Fixtures.temporaryDirectory("hostile-store") + "/fathom.db"
        let (output, peakRSS) = try await fathom(["scan", image(attack.name), "--store", store, "-f", "json"] + attack.arguments)
        // Memory stays bounded whatever the layer claims (a bomb decoded whole would need GiBs).
        #expect(peakRSS < 300 << 20, "peak RSS \(peakRSS >> 20) MiB")
        if let error = attack.error {
            #expect(output.status == 1, "\(output.errorText)")
            #expect(output.errorText.contains(error), "\(output.errorText)")
            #expect(output.errorText.contains(image(attack.name)), "the error names the image: \(output.errorText)")
            // Nothing unverified is cached: no layer of a failed image is in the store.
            if attack.storesNothing { #expect(try await storedLayerCount(store) == 0) }
        } else {
            #expect(output.status == 0, "\(output.errorText)")
            let report = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
            let warnings = report["warnings"] as? [String] ?? []
            if let warning = attack.warning { #expect(warnings.contains { $0.contains(warning) }, "\(warnings)") }
        }
        if let bytes = expandedBytes(in: output.errorText) {
            // A bomb is stopped within the first few hundred MiB, not decoded to its end.
            #expect(bytes < 1 << 30, "\(output.errorText)")
        }
    }

    @Test func tarPathsAboveTheRootAreReadWhereContainerdPutsThem() async throws {
        let (output, _) = try await fathom(["scan", "\(registry.host)/hostile/escaping-paths:1", "-f", "json"])
        #expect(output.status == 0, "\(output.errorText)")
        let report = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let os = report["os"] as? [String: Any]
        #expect(os?["id"] as? String == "alpine" && os?["versionID"] as? String == "3.7.3", "\(report["os"] ?? "none")")
    }

    /// JSON nested 100,000 deep (a few hundred KB) in an SBOM, an OSV advisory and a secdb feed:
    /// the parser's depth limit turns each into an error naming the file and the depth, never a
    /// stack overflow.
    @Test func deeplyNestedJSONIsAClearError() async throws {
        let directory = try Fixtures.temporaryDirectory("deep-json")
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let documents = [
            "sbom.json": #"{"bomFormat":"CycloneDX","specVersion":"1.5","components":\#(deep)}"#,
            "osv.json": #"{"id":"OSV-DEEP","modified":"2024-01-01T00:00:00Z","affected":\#(deep)}"#,
            "secdb.json": #"{"distroversion":"v3.7","reponame":"main","packages":\#(deep)}"#,
        ]
        for (name, text) in documents { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }
        let store = directory + "/fathom.db"
        let runs = [
            ["scan", "sbom:\(directory)/sbom.json", "--store", store],
            ["db", "import", "\(directory)/osv.json", "--store", store],
            ["db", "import", "\(directory)/secdb.json", "--store", store],
        ]
        for arguments in runs {
            let (output, _) = try await fathom(arguments)
            #expect(output.status == 1, "\(arguments): \(output.errorText)")
            #expect(output.errorText.contains("nested"), "\(arguments): \(output.errorText)")
            #expect(output.errorText.contains(directory), "names the file: \(output.errorText)")
        }
    }

    /// One bad image never stops a fleet: every hostile image fails or warns on its own, named,
    /// and the good image beside them is scanned with exactly its packages.
    @Test func aFleetOfHostileImagesScansTheGoodOne() async throws {
        let store = try Fixtures.temporaryDirectory("hostile-fleet") + "/fathom.db"
        let (output, peakRSS) = try await fathom(["registry", registry.host, "--store", store, "-f", "json", "--max-layer-entries", "10000"])
        #expect(output.status == 1, "failures make the run exit 1: \(output.errorText)")
        #expect(peakRSS < 400 << 20, "peak RSS \(peakRSS >> 20) MiB")
        let summary = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        let failures = summary["failures"] as? [[String: Any]] ?? []
        let failed = Set(failures.compactMap { ($0["name"] as? String)?.split(separator: "/").dropFirst().joined(separator: "/") })
        let wantFailed = Set(Self.cases.filter { $0.error != nil && $0.arguments.isEmpty && $0.name != "layers-100000" }.map { "hostile/\($0.name):1" })
            .union(["hostile/many-entries:1"])
        #expect(failed == wantFailed, "\(failures)")
        #expect((summary["images"] as? [String: Any])?["scanned"] as? Int == Self.imageNames - wantFailed.count, "\(summary)")
        // Each failure names its cause.
        for failure in failures { #expect((failure["reason"] as? String ?? "").count > 10, "\(failure)") }
        // The good image's layer is the only layer stored with packages; the alpine release is read.
        let good = try await fathom(["scan", "\(registry.host)/good/alpine:3.7.3", "--store", store, "-f", "json"]).output
        let report = try JSONSerialization.jsonObject(with: good.stdout) as! [String: Any]
        #expect((report["packages"] as? [Any])?.count == 13)
    }

    func storedLayerCount(_ store: String) async throws -> Int {
        guard FileManager.default.fileExists(atPath: store) else { return 0 }
        let output = try await Tool.run([
            "python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from layer_facts').fetchone()[0])",
            store,
        ])
        return Int(output.text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The byte count in "… to 256.3 MiB (…" of a bomb error.
    func expandedBytes(in text: String) -> Int64? {
        guard let range = text.range(of: #"to (\d+(\.\d+)?) (MiB|GiB)"#, options: .regularExpression) else { return nil }
        let parts = text[range].split(separator: " ")
        guard let value = Double(parts[1]) else { return nil }
        return Int64(value * (parts[2] == "GiB" ? 1_073_741_824.0 : 1_048_576.0))
    }

    /// Images in the registry: the attacks but the layout's one, and the good image.
    static let imageNames = Set(cases.map(\.name)).count - 1 + 1

    // MARK: - The hostile images

    static func pushHostileImages() async throws -> (LocalRegistry, String) {
        let registry = try await LocalRegistry()
        let layout = try Fixtures.temporaryDirectory("hostile-layout")
        let client = try registry.client()
        let alpine = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"))))
        let osRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.7.3\nPRETTY_NAME=\"Alpine Linux v3.7\"\n"
        let gzipType = "application/vnd.oci.image.layer.v1.tar+gzip"
        let zstdType = "application/vnd.oci.image.layer.v1.tar+zstd"
        let plainType = "application/vnd.oci.image.layer.v1.tar"

        func push(
            _ repository: String, tag: String = "1", layers: [([UInt8], String)], config: [UInt8]? = nil,
            configSize: Int? = nil, layerCount: Int? = nil
        ) async throws {
            let reference = try registry.reference(repository, tag)
            var descriptors: [[String: Any]] = []
            for (blob, mediaType) in layers {
                let digest = try await client.uploadBlob(reference, blob)
                descriptors.append(["mediaType": mediaType, "digest": digest.description, "size": blob.count])
            }
            // Many layers: the same blob again and again (what a 100,000-layer manifest costs a registry).
            if let layerCount { descriptors = Array(repeating: descriptors[0], count: layerCount) }
            let configBytes = try config ?? [UInt8](JSONSerialization.data(withJSONObject: [
                "architecture": "amd64", "os": "linux",
                "rootfs": ["type": "layers", "diff_ids": descriptors.map { $0["digest"]! }],
            ]))
            let configDigest = try await client.uploadBlob(reference, configBytes)
            let manifest: [String: Any] = [
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": [
                    "mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest.description,
                    "size": configSize ?? configBytes.count,
                ],
                "layers": descriptors,
            ]
            try await client.putManifest(
                reference, [UInt8](try JSONSerialization.data(withJSONObject: manifest)), mediaType: .ociManifest)
        }

        try await withClient(client) { _ in
            try await push("good/alpine", tag: "3.7.3", layers: [(alpine, gzipType)])
            // 10 GiB of zeros in 10 MB, the issue's own example: a valid tar of 160 files of 64 MiB.
            try await push("hostile/gzip-bomb", layers: [(try await HostileLayers.gzipBombOfEntries(entries: 160, entryBytes: 64 << 20), gzipType)])
            // 100 GiB of zeros in 3.4 MB of zstd frames (33,679 bytes per GiB).
            try await push("hostile/zstd-bomb", layers: [(try await HostileLayers.zstdBomb(claimed: 8 << 30, frames: 100, frameBytes: 1 << 30), zstdType)])
            let smallTar = HostileLayers.tar([("etc/os-release", "0", osRelease)])
            try await push("hostile/zstd-forged-size", layers: [(HostileLayers.forgingContentSize(try await HostileLayers.zstd(smallTar), to: 1 << 40), zstdType)])
            try await push("hostile/tar-claims-1tb", layers: [(try await HostileLayers.gzip(HostileLayers.header(name: "huge", size: 1 << 40) + [UInt8](repeating: 0, count: 1 << 20)), gzipType)])
            try await push("hostile/pax-1gb", layers: [(try await HostileLayers.gzip(HostileLayers.header(name: "PaxHeaders/x", size: 1 << 30, type: "x") + [UInt8](repeating: 0, count: 1 << 16)), gzipType)])
            let manyEntries = HostileLayers.tar((0..<20_000).map { ("empty/\($0)", "0", "") })
            try await push("hostile/many-entries", layers: [(try await HostileLayers.gzip(manyEntries), gzipType)])
            try await push("hostile/not-a-tar", layers: [(Array(String(repeating: "this is not a tar archive\n", count: 100).utf8), plainType)])
            try await push("hostile/gzip-trailing-garbage", layers: [(try await HostileLayers.gzip(smallTar) + Array("GARBAGE".utf8), gzipType)])
            // A 1 GiB apk database (zeros: the file limit stops it before a parser sees it).
            try await push("hostile/huge-pkgdb", layers: [(try await HostileLayers.gzipBomb(name: "lib/apk/db/installed", claimed: 1 << 30, members: 16, memberBytes: 64 << 20) + (try await HostileLayers.gzip([UInt8](repeating: 0, count: 1024))), gzipType)])
            let escaping = HostileLayers.tar([("../../../etc/os-release", "0", osRelease), ("/../lib/x", "0", "x"), ("/etc/hostname", "0", "hostile\n")])
            try await push("hostile/escaping-paths", layers: [(try await HostileLayers.gzip(escaping), gzipType)])
            let loop = HostileLayers.tar([("etc/os-release", "2", "os-release"), ("usr/lib/os-release", "2", "../../etc/os-release")])
            try await push("hostile/link-loop", layers: [(try await HostileLayers.gzip(loop), gzipType)])
            let dangling = HostileLayers.tar([("etc/os-release", "0", osRelease), ("lib/apk/db/installed", "1", "nowhere/installed")])
            try await push("hostile/dangling-hard-link", layers: [(try await HostileLayers.gzip(dangling), gzipType)])
            try await push("hostile/layers-2000", layers: [(alpine, gzipType)], layerCount: 2000)
            // 100,000 layers: a 14 MB manifest. docker-registry 2.8 refuses it (400), so it is
            // read from an OCI layout, where fathom is the only guard.
            let builder = try OCILayoutBuilder(directory: layout)
            let alpineDigest = try builder.writeBlob(Data(alpine))
            let config = try builder.writeBlob(Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8))
            let manifest = try JSONSerialization.data(withJSONObject: [
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 78],
                "layers": Array(repeating: ["mediaType": gzipType, "digest": alpineDigest, "size": alpine.count], count: 100_000),
            ] as [String: Any])
            let manifestDigest = try builder.writeBlob(manifest)
            try JSONSerialization.data(withJSONObject: [
                "schemaVersion": 2,
                "manifests": [[
                    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifestDigest, "size": manifest.count,
                    "annotations": ["org.opencontainers.image.ref.name": "1"],
                ] as [String: Any]],
            ] as [String: Any]).write(to: URL(fileURLWithPath: layout + "/index.json"))
            let hugeConfig = Array(#"{"architecture":"amd64","os":"linux","padding":""#.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 20) + Array(#""}"#.utf8)
            try await push("hostile/config-64mib", layers: [(alpine, gzipType)], config: hugeConfig)
            try await push("hostile/config-size-lie", layers: [(alpine, gzipType)], config: hugeConfig, configSize: 300)
            let deep = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"deep":"#.utf8)
                + [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000) + Array("}".utf8)
            try await push("hostile/deep-json-config", layers: [(alpine, gzipType)], config: deep)
            try await push("hostile/image-bytes", layers: [(alpine, gzipType)])
        }
        return (registry, layout)
    }
}
