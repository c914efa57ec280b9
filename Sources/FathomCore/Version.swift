/// fathom's own version, sent in `User-Agent` and printed by `fathom --version`.
public enum FathomVersionInfo {
    public static let version = "0.1.0"
    public static let userAgent = "fathom/\(version)"
}
