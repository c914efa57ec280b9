import FathomCore
import FathomTestSupport
import Foundation

/// A small fleet in the real registry, built once per test process from the Alpine 3.7.3
/// minirootfs: every image shares that base layer (vulnerable musl 1.1.18-r3).
/// - `apps/app-00` … `apps/app-19` (tag `1`): base + one small layer of its own (a config
///   file; the even ones also hold `requests` 2.19.1's METADATA), gzip for even, zstd for odd.
/// - `broken/one`, `broken/two`: base + a shared layer whose blob is damaged in the
///   registry's storage after the push.
/// - `fixed/app:1`: base + a config layer; `fixedLayout:fixed` is the same app after an
///   `apk upgrade musl` (its layer rewrites the apk database at 1.1.18-r4), pushed by a test.
struct FleetFixture: Sendable {
    struct App: Sendable {
        var repository: String
        var layers: [String]
        var hasRequests: Bool
    }

    let registry: LocalRegistry
    let baseLayer: String
    let apps: [App]
    let brokenLayer: String
    let fixedLayout: String
    let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
    let pypi = Fixtures.root.appendingPathComponent("advisories/osv-pypi.tar.gz").path

    static let shared = SharedFixture { try await FleetFixture() }

    func name(_ repository: String, tag: String = "1") -> String { "\(registry.host)/\(repository):\(tag)" }

    private init() async throws {
        registry = try await LocalRegistry()
        let directory = try Fixtures.temporaryDirectory("fleet")
        let baseTar = directory + "/alpine-3.7.3.tar"
        let alpine = Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")
        try await Tool.run(["gzip", "-dc", alpine]).stdout.write(to: URL(fileURLWithPath: baseTar))
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        var tags: [(tag: String, images: [OCILayoutBuilder.Image])] = []
        var apps: [App] = []
        var base = ""
        for number in 0..<20 {
            let app = String(format: "app-%02d", number)
            var files = ["etc/\(app).conf": "name=\(app)\nport=\(8000 + number)\n"]
            if number.isMultiple(of: 2) {
                files["usr/lib/python3.6/site-packages/requests-2.19.1.dist-info/METADATA"] =
                    "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\nSummary: Python HTTP for Humans.\n"
            }
            let tar = directory + "/\(app).tar"
            try await OCILayoutBuilder.makeTar(files, at: tar)
            let image = try await builder.addImage(layers: [(baseTar, .gzip), (tar, number.isMultiple(of: 2) ? .gzip : .zstd)])
            base = image.layerDigests[0]
            tags.append((app, [image]))
            apps.append(App(repository: "apps/\(app)", layers: image.layerDigests, hasRequests: number.isMultiple(of: 2)))
        }
        let brokenTar = directory + "/broken.tar"
        try await OCILayoutBuilder.makeTar(
            ["opt/broken/data.txt": String(repeating: "fathom fleet fixture line\n", count: 4000)], at: brokenTar)
        let broken = try await builder.addImage(layers: [(baseTar, .gzip), (brokenTar, .gzip)])
        tags.append(("broken", [broken]))

        let fixedConfig = directory + "/fixed-app.tar"
        try await OCILayoutBuilder.makeTar(["etc/fixed-app.conf": "name=fixed\n"], at: fixedConfig)
        tags.append(("fixed-before", [try await builder.addImage(layers: [(baseTar, .gzip), (fixedConfig, .gzip)])]))
        // The upgrade layer: the same config plus the apk database as `apk upgrade musl` leaves it.
        let installed = try await Tool.run(["tar", "-xOf", baseTar, "./lib/apk/db/installed"]).text
        let upgraded = installed.replacingOccurrences(of: "V:1.1.18-r3", with: "V:1.1.18-r4")
        let upgradeTar = directory + "/fixed-upgrade.tar"
        try await OCILayoutBuilder.makeTar(["etc/fixed-app.conf": "name=fixed\n", "lib/apk/db/installed": upgraded], at: upgradeTar)
        tags.append(("fixed", [try await builder.addImage(layers: [(baseTar, .gzip), (upgradeTar, .gzip)])]))
        try builder.writeIndex(tags)

        let layout = directory + "/oci"
        for app in apps {
            try await registry.push("oci:\(layout):\(app.repository.dropFirst("apps/".count))", to: app.repository, tag: "1")
        }
        try await registry.push("oci:\(layout):broken", to: "broken/one", tag: "1")
        try await registry.push("oci:\(layout):broken", to: "broken/two", tag: "1")
        try await registry.push("oci:\(layout):fixed-before", to: "fixed/app", tag: "1")
        // Damage the shared layer where the registry keeps it: it serves the bytes unchecked.
        let brokenDigest = broken.layerDigests[1]
        let hex = String(brokenDigest.dropFirst("sha256:".count))
        let path = "\(registry.directory)/data/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))

        self.baseLayer = base
        self.apps = apps
        self.brokenLayer = brokenDigest
        self.fixedLayout = layout
    }

    /// Blob GETs the registry answered for each digest so far.
    func blobGETs(_ digests: [String]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: digests.map { ($0, registry.blobGETCount(digest: $0)) })
    }
}
