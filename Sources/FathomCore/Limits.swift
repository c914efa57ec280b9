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
