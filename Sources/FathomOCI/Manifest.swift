// https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md
// https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md
import FathomCore
import Foundation

/// An image manifest (OCI or Docker schema 2).
public struct Manifest: Hashable, Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?
    public var subject: Descriptor?

    public init(
        schemaVersion: Int = 2, mediaType: MediaType? = .ociManifest, config: Descriptor, layers: [Descriptor],
        annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index or Docker manifest list.
public struct Index: Hashable, Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?

    public init(
        schemaVersion: Int = 2, mediaType: MediaType? = .ociIndex, manifests: [Descriptor],
        annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    // Lenient where real writers differ: Docker 25's `docker save` writes `"manifests": null`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try container.decode(Int.self, forKey: .schemaVersion)
        mediaType = try container.decodeIfPresent(MediaType.self, forKey: .mediaType)
        manifests = try container.decodeIfPresent([Descriptor].self, forKey: .manifests) ?? []
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
    }
}

/// A manifest document as a registry or layout serves it: either an index or a manifest, with
/// its exact bytes (a digest is computed over them) and their digest.
public enum ManifestDocument: Sendable {
    case index(Index)
    case manifest(Manifest)

    /// Decodes a manifest document. The media type comes from the transport (Content-Type or
    /// descriptor) and is checked against the document's own `mediaType` field; where neither
    /// is definite, the shape decides (`manifests` → index, `config` + `layers` → manifest).
    public static func decode(_ bytes: [UInt8], mediaType: MediaType?) throws -> ManifestDocument {
        // The fields that decide the shape, and whether `manifests` is there, without decoding
        // any descriptor: the shape's own decode then reads them once.
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: MediaType?
            var hasManifests: Bool
            enum CodingKeys: String, CodingKey { case schemaVersion, mediaType, manifests }
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                schemaVersion = try container.decodeIfPresent(Int.self, forKey: .schemaVersion)
                mediaType = try container.decodeIfPresent(MediaType.self, forKey: .mediaType)
                hasManifests = try container.contains(.manifests) && !container.decodeNil(forKey: .manifests)
            }
        }
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: Data(bytes))
        } catch {
            throw FathomError(.invalidManifest, "the manifest is not valid JSON of the OCI shape", cause: error)
        }
        if probe.schemaVersion == 1 {
            throw FathomError(
                .unsupported, "Docker schema 1 manifests are deprecated and not read; re-push the image")
        }
        guard probe.schemaVersion == 2 else {
            throw FathomError(.invalidManifest, "the manifest has schemaVersion \(probe.schemaVersion.map(String.init) ?? "missing"), expected 2")
        }
        let declared = probe.mediaType ?? mediaType
        let isIndex = declared.map(\.isIndex) ?? probe.hasManifests
        do {
            if isIndex || (declared?.isManifest != true && probe.hasManifests) {
                return .index(try JSONDecoder().decode(Index.self, from: Data(bytes)))
            }
            return .manifest(try JSONDecoder().decode(Manifest.self, from: Data(bytes)))
        } catch let error as DecodingError {
            throw FathomError(.invalidManifest, "the manifest misses required fields", cause: error)
        }
    }
}

extension Index {
    /// The manifest descriptor for `platform`, or an error listing the platforms the index has.
    public func manifest(for platform: Platform) throws -> Descriptor {
        // A single entry that states no platform is the image (single-image indexes often omit it).
        if manifests.count == 1, manifests[0].platform == nil { return manifests[0] }
        guard !manifests.isEmpty else { throw FathomError(.notFound, "the index lists no image (its manifests are empty)") }
        let candidates = manifests.filter { $0.mediaType.isManifest || $0.mediaType.isIndex }
        if let match = candidates.first(where: { $0.platform.map(platform.matches) ?? false }) {
            return match
        }
        let available = candidates.compactMap { $0.platform?.description }
        throw FathomError(
            .noMatchingPlatform,
            "the index has no manifest for \(platform); it has \(available.isEmpty ? "none with a platform" : available.joined(separator: ", ")) (choose one with --platform)"
        )
    }
}
