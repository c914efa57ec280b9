public import FathomCore
public import FathomInventory
import FathomLayer
public import FathomOCI
public import FathomPipeline
import Foundation

/// The JSON document `fathom scan --format json` prints: one stable shape, versioned by
/// `schemaVersion`, with the keys `artifact`, `os`, `layers`, `packages`, `vulnerabilities`.
public struct ScanReport: Sendable, Codable {
    public struct Artifact: Sendable, Codable {
        public var name: String
        public var repoTags: [String]
        public var indexDigest: Digest?
        public var manifestDigest: Digest?
        public var mediaType: MediaType?
        public var configDigest: Digest
        public var platform: String?
        public var created: String?
    }

    public struct OS: Sendable, Codable {
        public var id: String
        public var versionID: String?
        public var prettyName: String?
        public var namespace: String?
        public var source: String
    }

    public struct Layer: Sendable, Codable {
        public var index: Int
        public var digest: Digest
        public var diffID: Digest?
        public var mediaType: MediaType
        public var compression: LayerCompression
        public var size: Int64
        public var uncompressedSize: Int64
        /// Tar entries of every kind.
        public var entries: Int
        /// Regular files.
        public var files: Int
        public var createdBy: String?
    }

    /// An installed package.
    public struct Package: Sendable, Codable {
        public typealias Source = FathomInventory.Package.Source
        public var ecosystem: String
        public var name: String
        public var version: String
        public var arch: String?
        public var source: Source?
        public var path: String
        /// The digest of the layer that introduced this version of the package.
        public var layer: Digest
        public var modularityLabel: String?
    }

    /// A finding (filled by the matcher).
    public struct Vulnerability: Sendable, Codable {
        public var id: String
        public var package: String
        public var installedVersion: String
        public var fixedVersion: String?
    }

    public var schemaVersion: Int
    public var artifact: Artifact
    public var os: OS?
    public var layers: [Layer]
    public var packages: [Package]
    public var vulnerabilities: [Vulnerability]
    public var warnings: [String]

    public init(_ result: ImageScanResult) {
        let image = result.image
        schemaVersion = 1
        artifact = Artifact(
            name: image.name, repoTags: image.repoTags, indexDigest: image.indexDigest, manifestDigest: image.manifestDigest,
            mediaType: image.manifestMediaType, configDigest: image.configDigest, platform: image.platform?.description,
            created: image.config.created)
        os = result.os.map {
            OS(id: $0.id, versionID: $0.versionID, prettyName: $0.prettyName, namespace: $0.namespace, source: $0.source)
        }
        layers = result.layers.enumerated().map { index, scanned in
            let summary = scanned.facts.summary
            return Layer(
                index: index, digest: summary.digest, diffID: scanned.layer.diffID, mediaType: scanned.layer.mediaType,
                compression: summary.compression, size: summary.compressedSize, uncompressedSize: summary.uncompressedSize,
                entries: summary.entryCount, files: summary.fileCount, createdBy: scanned.createdBy)
        }
        packages = result.packages.map { entry in
            let package = entry.package
            return Package(
                ecosystem: package.ecosystem, name: package.name, version: package.version, arch: package.arch,
                source: package.source, path: package.path,
                layer: result.layers[entry.layer].facts.summary.digest, modularityLabel: package.modularityLabel)
        }
        vulnerabilities = []
        warnings = result.layers.flatMap { scanned in
            scanned.facts.warnings.map { "layer \(scanned.facts.summary.digest): \($0)" }
        }
    }

    /// Pretty-printed JSON with a trailing newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
