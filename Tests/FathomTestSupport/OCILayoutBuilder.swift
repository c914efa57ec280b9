import FathomCore
public import Foundation

/// Writes OCI image layouts from plain tar files, compressing layers with the system `gzip`
/// or `zstd`, so tests can build exactly the images they need (zstd layers, multi-platform
/// indexes) and push them to the real registry with `skopeo copy`.
public struct OCILayoutBuilder {
    public enum Compression: String, Sendable {
        case none
        case gzip
        case zstd
    }

    /// A written manifest, ready to be listed in an index.
    public struct Image: Sendable {
        public var manifestDigest: String
        public var manifestSize: Int
        public var configDigest: String
        public var layerDigests: [String]
        public var diffIDs: [String]
        public var platform: (os: String, architecture: String, variant: String?)
    }

    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/blobs/sha256", withIntermediateDirectories: true)
        try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: directory + "/oci-layout", atomically: true, encoding: .utf8)
    }

    /// Stores bytes as a blob; returns its digest.
    @discardableResult
    public func writeBlob(_ data: Data) throws -> String {
        let digest = Digest.sha256(of: [UInt8](data))
        try data.write(to: URL(fileURLWithPath: "\(directory)/blobs/sha256/\(digest.encoded)"))
        return digest.description
    }

    /// Adds an image whose layers are the given tar files, compressed as asked.
    public func addImage(
        layers: [(tar: String, compression: Compression)], os: String = "linux", architecture: String = "amd64",
        variant: String? = nil, created: String = "2026-01-01T00:00:00Z", history: [String]? = nil
    ) async throws -> Image {
        var layerDescriptors: [[String: Any]] = []
        var diffIDs: [String] = []
        var layerDigests: [String] = []
        for (tar, compression) in layers {
            let plain = try Data(contentsOf: URL(fileURLWithPath: tar))
            diffIDs.append(Digest.sha256(of: [UInt8](plain)).description)
            let blob: Data
            let mediaType: String
            switch compression {
            case .none:
                blob = plain
                mediaType = "application/vnd.oci.image.layer.v1.tar"
            case .gzip:
                blob = try await Tool.run(["gzip", "-n", "-c", tar]).stdout
                mediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
            case .zstd:
                blob = try await Tool.run(["zstd", "-q", "-c", tar]).stdout
                mediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
            }
            let digest = try writeBlob(blob)
            layerDigests.append(digest)
            layerDescriptors.append(["mediaType": mediaType, "digest": digest, "size": blob.count])
        }
        var config: [String: Any] = [
            "architecture": architecture, "os": os, "created": created,
            "rootfs": ["type": "layers", "diff_ids": diffIDs],
            "history": (history ?? layers.map { "ADD \(URL(fileURLWithPath: $0.tar).lastPathComponent) /" }).map {
                ["created": created, "created_by": $0]
            },
            "config": ["Env": ["PATH=/usr/bin:/bin"]],
        ]
        if let variant { config["variant"] = variant }
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])
        let configDigest = try writeBlob(configData)
        let manifest: [String: Any] = [
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": configData.count],
            "layers": layerDescriptors,
        ]
        let manifestData = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
        let manifestDigest = try writeBlob(manifestData)
        return Image(
            manifestDigest: manifestDigest, manifestSize: manifestData.count, configDigest: configDigest,
            layerDigests: layerDigests, diffIDs: diffIDs, platform: (os, architecture, variant))
    }

    /// Writes `index.json`: each tag names one image, or a multi-platform index of several.
    public func writeIndex(_ tags: [(tag: String, images: [Image])]) throws {
        var entries: [[String: Any]] = []
        for (tag, images) in tags {
            if images.count == 1 {
                entries.append(descriptor(images[0], tag: tag))
                continue
            }
            let nested: [String: Any] = [
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": images.map { descriptor($0, tag: nil) },
            ]
            let data = try JSONSerialization.data(withJSONObject: nested, options: [.sortedKeys])
            let digest = try writeBlob(data)
            entries.append([
                "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": data.count,
                "annotations": ["org.opencontainers.image.ref.name": tag],
            ])
        }
        let index: [String: Any] = [
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries,
        ]
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys, .prettyPrinted])
            .write(to: URL(fileURLWithPath: directory + "/index.json"))
    }

    private func descriptor(_ image: Image, tag: String?) -> [String: Any] {
        var platform: [String: Any] = ["os": image.platform.os, "architecture": image.platform.architecture]
        if let variant = image.platform.variant { platform["variant"] = variant }
        var entry: [String: Any] = [
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.manifestDigest,
            "size": image.manifestSize, "platform": platform,
        ]
        if let tag { entry["annotations"] = ["org.opencontainers.image.ref.name": tag] }
        return entry
    }

    /// Makes a tar of `files` (path → contents) with GNU tar, for a layer.
    public static func makeTar(_ files: [String: String], at path: String) async throws {
        let root = path + ".root"
        try? FileManager.default.removeItem(atPath: root)
        for (name, contents) in files {
            let file = root + "/" + name
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try contents.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try await Tool.run(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", root, "-cf", path, "."])
    }
}
