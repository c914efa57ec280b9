import FathomCore
public import FathomArchive

/// A file an analyzer claimed in a layer: its contents (as text) or the link it is.
public struct FileFact: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case file
        case symlink
        case hardLink
    }

    public var kind: Kind
    /// Link target, for symlinks (relative to the link's directory, or absolute) and hard links
    /// (an archive path).
    public var linkTarget: String?
    /// The contents, for small text files analyzers parse after merging (os-release).
    public var text: String?
    /// Set when the file was over the analyzer's byte cap and was not read.
    public var skippedOverLimit: Bool?
    /// The packages an analyzer read from this file (package databases keep only these,
    /// not their bytes).
    public var packages: [Package]?
    /// For an OS package manager's file lists: the files its packages installed that a language
    /// analyzer reads (a Debian python3-urllib3's egg-info).
    public var ownedFiles: [String]?
    /// For dpkg's status: the installed packages that are not the distribution's own.
    public var foreignPackages: [String]?

    public init(
        kind: Kind, linkTarget: String? = nil, text: String? = nil, skippedOverLimit: Bool? = nil,
        packages: [Package]? = nil, ownedFiles: [String]? = nil, foreignPackages: [String]? = nil
    ) {
        self.foreignPackages = foreignPackages
        self.kind = kind
        self.linkTarget = linkTarget
        self.text = text
        self.skippedOverLimit = skippedOverLimit
        self.packages = packages
        self.ownedFiles = ownedFiles
    }
}

/// What fathom learned from one layer, without needing the blob again: the files analyzers
/// claimed, and the whiteouts that delete lower layers' files. Codable, so a store can cache
/// it per layer digest.
public struct LayerFacts: Sendable, Hashable, Codable {
    /// Bumped whenever analyzers learn more, so cached facts from older analyzers are stale.
    public static let analyzerVersion = 6  // 3: .NET deps.json, Composer's installed.json; 4: Java archives without pom.properties;
    // 5: CRLF metadata, npm aliases, no loose wheels, jars two levels deep and renamed by packagers,
    // the language files dpkg, apk and rpm installed; 6: no Python test fixtures

    public var analyzerVersion: Int
    public var summary: LayerReadSummary
    /// Claimed files by normalised path.
    public var files: [String: FileFact]
    /// Paths deleted from lower layers (`.wh.NAME`).
    public var whiteouts: [String]
    /// Directories whose lower-layer contents are hidden (`.wh..wh..opq`).
    public var opaqueDirectories: [String]
    /// Problems analyzers met that did not fail the layer (an over-limit file, say).
    public var warnings: [String]

    public init(
        summary: LayerReadSummary, files: [String: FileFact], whiteouts: [String], opaqueDirectories: [String],
        warnings: [String]
    ) {
        self.analyzerVersion = Self.analyzerVersion
        self.summary = summary
        self.files = files
        self.whiteouts = whiteouts
        self.opaqueDirectories = opaqueDirectories
        self.warnings = warnings
    }
}
