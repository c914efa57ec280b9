// https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md
public import FathomCore
import Foundation

/// The image configuration: platform, creation time, root filesystem diff IDs and history.
public struct ImageConfig: Hashable, Sendable, Codable {
    public struct RootFS: Hashable, Sendable, Codable {
        public var type: String
        public var diffIDs: [Digest]
        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public struct History: Hashable, Sendable, Codable {
        public var created: String?
        public var createdBy: String?
        public var comment: String?
        public var emptyLayer: Bool?
        enum CodingKeys: String, CodingKey {
            case created, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }
    }

    public var architecture: String?
    public var os: String?
    public var variant: String?
    /// RFC 3339 creation time, as the builder wrote it.
    public var created: String?
    public var rootfs: RootFS
    public var history: [History]?

    public static func decode(_ bytes: [UInt8]) throws -> ImageConfig {
        do {
            return try JSONDecoder().decode(ImageConfig.self, from: Data(bytes))
        } catch {
            throw FathomError(.invalidManifest, "the image config is not valid JSON with rootfs.diff_ids", cause: error)
        }
    }

    /// The platform the config states.
    public var platform: Platform? {
        guard let os, let architecture else { return nil }
        return Platform(os: os, architecture: architecture, variant: variant)
    }
}
