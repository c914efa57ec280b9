// https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md#image-index-property-descriptions
import FathomCore

/// The platform an image runs on: `os/architecture[/variant]`.
public struct Platform: Hashable, Sendable, Codable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `linux/amd64`, the default scanners pick from a multi-platform index.
    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64")

    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw FathomError(.invalidInput, "platform '\(text)' is not os/arch[/variant], e.g. linux/arm64/v8")
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// Whether an index entry for `candidate` serves this wanted platform. A wanted platform
    /// without a variant accepts any variant (arm64 images are usually `v8`); the
    /// architecture's default variant is accepted where the candidate states none.
    public func matches(_ candidate: Platform) -> Bool {
        guard candidate.os == os, candidate.architecture == architecture else { return false }
        guard let variant else { return true }
        if let other = candidate.variant { return other == variant }
        return (architecture == "arm64" && variant == "v8") || (architecture == "amd64" && variant == "v1")
    }
}
