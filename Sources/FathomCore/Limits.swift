import Foundation

/// Byte limits that keep memory bounded whatever the input claims about itself.
public enum ByteLimits {
    /// The largest manifest, index or config document fathom reads (the distribution spec
    /// suggests registries accept at least 4 MiB manifests).
    public static let document = 4 * 1024 * 1024
    /// The largest `index.json` of an OCI layout fathom lists as a fleet (one entry per tag:
    /// about 300 bytes each).
    public static let layoutIndex = 256 * 1024 * 1024
    /// The largest error body decoded from a registry.
    public static let errorBody = 64 * 1024
    /// The largest file body an analyzer may collect from a layer.
    public static let analyzedFile = 64 * 1024 * 1024
    /// The largest feed file expanded from gzip (NVD's yearly CVE files are a few hundred MB).
    public static let feedFile = 2 * 1024 * 1024 * 1024
    /// The largest PAX or GNU long-name record the tar reader accepts.
    public static let tarMetadata = 1024 * 1024
}

/// Logging metadata keys, dotted like Hummingbird's `hb.request.id`.
public enum LogKey {
    public static let image = "fathom.image"
    public static let imageDigest = "fathom.image.digest"
    public static let layerDigest = "fathom.layer.digest"
    public static let registry = "fathom.registry"
    public static let scanID = "fathom.scan.id"
    public static let attempt = "fathom.http.attempt"
}

/// What one layer or image may expand to while it is read: the defence against decompression
/// bombs and against tar streams that claim more than they hold. Every limit is an option
/// (`--max-layer-bytes` and the rest); the defaults leave room for the largest real images
/// (CUDA and ML layers of several GiB) and stop a bomb within a fraction of a second.
public struct ReadLimits: Sendable, Hashable, Codable {
    /// Tar bytes one layer may expand to.
    public var layerBytes: Int64
    /// Tar bytes all of an image's layers may expand to together.
    public var imageBytes: Int64
    /// Expanded bytes per compressed byte a layer may reach once it has expanded past
    /// `ratioFloor`. gzip tops out near 1,032:1 and real layers stay under 20:1; a bomb is far
    /// above either, and is stopped long before `layerBytes`.
    public var expansionRatio: Int64
    /// Tar entries one layer may hold (each whiteout is remembered, so this bounds memory too).
    public var layerEntries: Int
    /// Layers one image may have (Docker stops at 127; OCI sets no limit).
    public var imageLayers: Int
    /// The most bytes of one file an analyzer collects; `nil` keeps each analyzer's own limit.
    public var fileBytes: Int?

    /// Below this many expanded bytes the ratio is not checked: a small layer of zeros is fine.
    public static let ratioFloor: Int64 = 256 << 20

    public static let `default` = ReadLimits(
        layerBytes: 16 << 30, imageBytes: 64 << 30, expansionRatio: 200, layerEntries: 1_000_000, imageLayers: 1_000,
        fileBytes: nil)

    public init(
        layerBytes: Int64, imageBytes: Int64, expansionRatio: Int64, layerEntries: Int, imageLayers: Int, fileBytes: Int?
    ) {
        self.layerBytes = layerBytes
        self.imageBytes = imageBytes
        self.expansionRatio = expansionRatio
        self.layerEntries = layerEntries
        self.imageLayers = imageLayers
        self.fileBytes = fileBytes
    }

    /// Parses a size such as `512MiB`, `16GiB`, `2G`, `1000000` (bytes). Units are binary
    /// whether or not the `i` is written, as Docker and Kubernetes users read `G`.
    public static func parseSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int64(digits) else { return nil }
        var unit = trimmed.dropFirst(digits.count).lowercased()
        if unit.hasSuffix("b") { unit.removeLast() }
        if unit.hasSuffix("i") { unit.removeLast() }
        let shift: Int64
        switch unit {
        case "": shift = 0
        case "k": shift = 10
        case "m": shift = 20
        case "g": shift = 30
        case "t": shift = 40
        default: return nil
        }
        let (result, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : result
    }

    /// `16 GiB`, `512 MiB`, `1,000 B`: how the limits are named in errors and help.
    public static func describe(_ bytes: Int64) -> String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift {
            let value = Double(bytes) / Double(Int64(1) << shift)
            return value == value.rounded() ? "\(Int64(value)) \(unit)" : String(format: "%.1f \(unit)", value)
        }
        return "\(bytes) B"
    }
}
