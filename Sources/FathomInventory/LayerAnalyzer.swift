import FathomCore
public import FathomArchive

/// Decides which paths of a layer are worth reading. Analyzers claim only what they parse,
/// so everything else streams past unread.
public struct PathClaims: Sendable {
    /// Exact normalised paths.
    public var exact: Set<String>
    /// Claim every file (tests and debugging: a layer's whole content in memory).
    public var everything: Bool
    /// Per-file byte cap.
    public var limit: Int

    public init(exact: Set<String>, everything: Bool = false, limit: Int = 1 << 20) {
        self.exact = exact
        self.everything = everything
        self.limit = limit
    }

    /// Every file, each up to `limit` bytes.
    public static func everything(limit: Int = 1 << 20) -> PathClaims {
        PathClaims(exact: [], everything: true, limit: limit)
    }

    /// The files every scan reads: OS identification.
    public static let standard = PathClaims(exact: OSRelease.paths)

    func claims(_ path: String) -> Bool { everything || exact.contains(path) }
}

/// Walks one layer's tar entries, keeping the claimed files, whiteouts and opaque directories.
public struct LayerFactsCollector: TarEntryHandler {
    let claims: PathClaims
    let analyzers: [any Analyzer]
    let streamingAnalyzers: [any StreamingAnalyzer]
    var files: [String: FileFact] = [:]
    /// The scan of the entry being streamed (tar entries come one at a time).
    var activeScanner: (any StreamScanner)?
    var whiteouts: [String] = []
    var opaqueDirectories: [String] = []
    var warnings: [String] = []
    /// Entries named above the layer's root (`../etc/passwd`), counted for one warning.
    var escapingEntries = 0
    var firstEscapingEntry = ""
    /// `--max-file-bytes`: replaces every analyzer's own limit when given.
    let fileBytes: Int?

    public init(
        claims: PathClaims = .standard, analyzers: [any Analyzer] = Analyzers.all,
        streamingAnalyzers: [any StreamingAnalyzer] = Analyzers.streaming, fileBytes: Int? = nil
    ) {
        self.fileBytes = fileBytes
        self.claims = claims
        self.analyzers = analyzers
        self.streamingAnalyzers = streamingAnalyzers
    }

    private func analyzer(for path: String) -> (any Analyzer)? {
        analyzers.first { $0.claims(path) }
    }

    private func wants(_ path: String) -> Bool { claims.claims(path) || analyzer(for: path) != nil }

    public mutating func claim(_ entry: TarEntry) -> TarBodyClaim {
        if entry.name.contains(".."), TarEntry.escapesRoot(entry.name) {
            if escapingEntries == 0 { firstEscapingEntry = entry.name }
            escapingEntries += 1
        }
        switch entry.kind {
        case .whiteout:
            if let target = entry.whiteoutTarget { whiteouts.append(target) }
            return .skip
        case .opaqueWhiteout:
            if let target = entry.whiteoutTarget { opaqueDirectories.append(target) }
            return .skip
        case .symlink where wants(entry.path):
            files[entry.path] = FileFact(kind: .symlink, linkTarget: entry.linkName)
            return .skip
        case .hardLink where wants(entry.path):
            files[entry.path] = FileFact(kind: .hardLink, linkTarget: TarEntry.normalize(entry.linkName))
            return .skip
        case .file:
            if let analyzer = analyzer(for: entry.path) { return .collect(limit: fileBytes ?? analyzer.byteLimit) }
            if claims.claims(entry.path) { return .collect(limit: fileBytes ?? claims.limit) }
            let info = TarEntryInfo(path: entry.path, mode: entry.mode, size: entry.size)
            if let streaming = streamingAnalyzers.first(where: { $0.claims(info) }) {
                activeScanner = streaming.makeScanner(path: entry.path, size: entry.size)
                return .stream
            }
            if files[entry.path] != nil { files[entry.path] = nil }
            return .skip
        default:
            // A later entry of another kind at a claimed path replaces the earlier one.
            if files[entry.path] != nil { files[entry.path] = nil }
            return .skip
        }
    }

    public mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws {
        let analyzer = analyzer(for: entry.path)
        guard complete else {
            let limit = fileBytes ?? analyzer?.byteLimit ?? claims.limit
            let what = analyzer == nil ? "not read"
                : analyzer is DpkgFileListAnalyzer ? "not read, so the language packages its package installed are matched as their ecosystems'"
                : "not read, so the packages it lists are not in this report"
            warnings.append(
                "\(entry.path): \(ReadLimits.describe(entry.size)) is over the \(ReadLimits.describe(Int64(limit))) limit for this file (--max-file-bytes); \(what)")
            files[entry.path] = FileFact(kind: .file, skippedOverLimit: true)
            return
        }
        if let analyzer {
            let result = analyzer.analyze(path: entry.path, contents: body)
            warnings += result.warnings
            files[entry.path] = FileFact(
                kind: .file, packages: result.packages, ownedFiles: result.ownedFiles.isEmpty ? nil : result.ownedFiles,
                foreignPackages: result.foreignPackages.isEmpty ? nil : result.foreignPackages)
        } else {
            files[entry.path] = FileFact(kind: .file, text: String(decoding: body, as: UTF8.self))
        }
    }

    public mutating func receiveChunk(_ entry: TarEntry, _ bytes: UnsafeRawBufferPointer) throws {
        activeScanner?.feed(bytes)
    }

    public mutating func endOfBody(_ entry: TarEntry) throws {
        guard var scanner = activeScanner else { return }
        activeScanner = nil
        let result = scanner.finish()
        warnings += result.warnings
        if !result.packages.isEmpty { files[entry.path] = FileFact(kind: .file, packages: result.packages) }
    }

    /// The facts, once the layer has been read and verified.
    public func facts(_ summary: LayerReadSummary) -> LayerFacts {
        LayerFacts(
            summary: summary, files: files, whiteouts: whiteouts, opaqueDirectories: opaqueDirectories,
            warnings: warnings + escapeWarning)
    }

    private var escapeWarning: [String] {
        guard escapingEntries > 0 else { return [] }
        return [
            "\(escapingEntries) tar entries are named above the layer's root (first: '\(firstEscapingEntry)'): a hostile or broken layer; read where containerd unpacks them, at '\(TarEntry.normalize(firstEscapingEntry))'"
        ]
    }
}
