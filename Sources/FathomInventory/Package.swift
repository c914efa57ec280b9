/// An installed package, as an analyzer found it.
public struct Package: Sendable, Hashable, Codable {
    /// The source package it was built from (dpkg `Source:`, apk origin, rpm SOURCERPM).
    public struct Source: Sendable, Hashable, Codable {
        public var name: String
        public var version: String?
        public init(name: String, version: String?) {
            self.name = name
            self.version = version
        }
    }

    /// `deb`, `apk`, `rpm`, `pypi`, `npm`, `go`, `maven`, `crates`, `gem`, `composer`.
    public var ecosystem: String
    public var name: String
    public var version: String
    public var arch: String?
    public var source: Source?
    /// The file the package was read from, as a path in the image.
    public var path: String
    /// rpm modularity label, where present.
    public var modularityLabel: String?

    public init(
        ecosystem: String, name: String, version: String, arch: String? = nil, source: Source? = nil, path: String,
        modularityLabel: String? = nil
    ) {
        self.ecosystem = ecosystem
        self.name = name
        self.version = version
        self.arch = arch
        self.source = source
        self.path = path
        self.modularityLabel = modularityLabel
    }

    /// The ecosystems of an OS's package managers (dpkg, apk, rpm): looked up in the image's
    /// OS namespace, where the others are looked up in their own ecosystem.
    public static let osEcosystems: Set<String> = ["deb", "apk", "rpm"]

    /// Whether the package is one of its OS's (see `osEcosystems`).
    public var isOSPackage: Bool { Self.osEcosystems.contains(ecosystem) }

    /// What makes two entries the same installed package version.
    var identity: String { "\(ecosystem)\u{0}\(name)\u{0}\(version)\u{0}\(arch ?? "")" }
}

/// What an analyzer made of one file: the packages it could read and what it could not.
public struct AnalyzerResult: Sendable {
    public var packages: [Package]
    public var warnings: [String]
    /// Files an OS package manager says its packages installed, of those a language analyzer
    /// reads (see `Analyzers.ownedFileOfInterest`).
    public var ownedFiles: [String]
    /// Installed OS packages that are not the distribution's own (a vendor's .deb): the files
    /// they installed are not left to the distribution's advisories.
    public var foreignPackages: [String]
    public init(packages: [Package] = [], warnings: [String] = [], ownedFiles: [String] = [], foreignPackages: [String] = []) {
        self.packages = packages
        self.warnings = warnings
        self.ownedFiles = ownedFiles
        self.foreignPackages = foreignPackages
    }
}

/// Finds packages in the files it claims. Analyzers never throw: a damaged file yields the
/// packages that could be read and a warning naming the file.
public protocol Analyzer: Sendable {
    var name: String { get }
    /// Whether the analyzer reads this normalised path.
    func claims(_ path: String) -> Bool
    /// The largest file it reads; larger files are reported, not read.
    var byteLimit: Int { get }
    func analyze(path: String, contents: [UInt8]) -> AnalyzerResult
}

/// An analyzer for files too large to hold (binaries): it sees the body as it streams past
/// and keeps only what it needs.
public protocol StreamingAnalyzer: Sendable {
    var name: String { get }
    /// Whether the analyzer wants this entry's body (path, mode and size are known).
    func claims(_ entry: TarEntryInfo) -> Bool
    func makeScanner(path: String, size: Int64) -> any StreamScanner
}

/// What a streaming analyzer may look at before the body.
public struct TarEntryInfo: Sendable {
    public var path: String
    public var mode: UInt32
    public var size: Int64
}

/// One file's scan in progress.
public protocol StreamScanner {
    mutating func feed(_ bytes: UnsafeRawBufferPointer)
    mutating func finish() -> AnalyzerResult
}

/// The analyzers every scan runs.
public enum Analyzers {
    public static let all: [any Analyzer] = [DpkgAnalyzer(), DpkgFileListAnalyzer(), ApkAnalyzer(), RpmAnalyzer()] + language
    public static let streaming: [any StreamingAnalyzer] = [BinaryAnalyzer()]

    /// The analyzers of language packages' metadata.
    static let language: [any Analyzer] = [
        PythonAnalyzer(), NpmAnalyzer(), CargoLockAnalyzer(), ComposerLockAnalyzer(), ComposerInstalledAnalyzer(), GemspecAnalyzer(),
        JavaArchiveAnalyzer(), DotnetDepsAnalyzer(),
    ]

    /// Whether an OS package's file is one a language analyzer reads: only those are kept from
    /// the package manager's file lists, to tell the language packages it installed.
    static func ownedFileOfInterest(_ path: String) -> Bool { language.contains { $0.claims(path) } }
}
