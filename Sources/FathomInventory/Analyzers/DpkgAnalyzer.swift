// deb822 control data as dpkg keeps it: https://manpages.debian.org/bookworm/dpkg-dev/deb822.5.en.html
// and https://manpages.debian.org/bookworm/dpkg/dpkg-query.1.en.html (Status: want ok state).

/// `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/<name>` files.
public struct DpkgAnalyzer: Analyzer {
    public let name = "dpkg"
    public let byteLimit = 64 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        if path == "var/lib/dpkg/status" { return true }
        // status.d holds one stanza per package plus <name>.md5sums, .preinst…: take the bare names.
        guard path.hasPrefix("var/lib/dpkg/status.d/") else { return false }
        let file = path.dropFirst("var/lib/dpkg/status.d/".count)
        return !file.isEmpty && !file.contains("/") && !file.contains(".")
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var result = AnalyzerResult()
        for (index, paragraph) in Deb822.paragraphs(contents).enumerated() {
            guard let name = paragraph["Package"] else {
                result.warnings.append("\(path): paragraph \(index + 1) has no Package field; skipped")
                continue
            }
            // Only installed packages: "install ok installed" (also "hold ok installed").
            // status.d stanzas carry no Status field: everything there is installed.
            if let status = paragraph["Status"] {
                let words = status.split(separator: " ")
                guard words.count == 3, words[2] == "installed" else { continue }
            }
            guard let version = paragraph["Version"], !version.isEmpty else {
                result.warnings.append("\(path): package \(name) has no Version; skipped")
                continue
            }
            var source: Package.Source
            if let field = paragraph["Source"], !field.isEmpty {
                // "name" or "name (version)" when the source version differs.
                let parts = field.split(separator: " ", maxSplits: 1)
                let sourceVersion = parts.count > 1 ? parts[1].trimmingCharacters(in: ["(", ")", " "]) : version
                source = Package.Source(name: String(parts[0]), version: sourceVersion)
            } else {
                source = Package.Source(name: name, version: version)
            }
            result.packages.append(
                Package(ecosystem: "deb", name: name, version: version, arch: paragraph["Architecture"], source: source, path: path))
            if !Self.isDistributions(maintainer: paragraph["Maintainer"]) { result.foreignPackages.append(name) }
        }
        return result
    }

    /// Whether a package's maintainer is Debian's or Ubuntu's (a team or a developer at
    /// debian.org, Debian's lists, Ubuntu's): the distribution's advisories then cover what it
    /// installed. A vendor's package (Elastic's elasticsearch, Jenkins') is not, and the
    /// libraries it installed are matched as their ecosystems' (its log4j jar stays a finding).
    /// A Debian developer writing from another address reads as a vendor: their package's
    /// libraries are matched, as before fathom read file lists, which can be noise but hides nothing.
    static func isDistributions(maintainer: String?) -> Bool {
        // The address's domain: "Debian Python Team <team+python@tracker.debian.org>".
        guard let maintainer = maintainer?.lowercased(), let at = maintainer.lastIndex(of: "@") else { return false }
        let domain = maintainer[maintainer.index(after: at)...].prefix { $0 != ">" && $0 != " " }
        return ["debian.org", "debian.net", "ubuntu.com", "canonical.com"].contains { domain == $0 || domain.hasSuffix("." + $0) }
    }
}

/// Parses deb822 paragraphs: `Field: value` lines, continuation lines starting with a space
/// or tab, paragraphs separated by blank lines. Only the first line of the wanted fields is
/// kept, and only those become strings (the status file's other fields are skipped as bytes).
enum Deb822 {
    static let wanted: [[UInt8]] = ["Package", "Status", "Version", "Architecture", "Source", "Maintainer"].map { Array($0.utf8) }

    static func paragraphs(_ bytes: [UInt8]) -> [[String: String]] {
        var paragraphs: [[String: String]] = []
        var current: [String: String] = [:]
        var sawField = false
        bytes.withUnsafeBufferPointer { buffer in
            var lineStart = 0
            let count = buffer.count
            while lineStart <= count {
                var lineEnd = lineStart
                while lineEnd < count && buffer[lineEnd] != 0x0A { lineEnd += 1 }
                var end = lineEnd
                if end > lineStart && buffer[end - 1] == 0x0D { end -= 1 }
                defer { lineStart = lineEnd + 1 }
                // A blank (or whitespace-only) line ends the paragraph.
                var blank = true
                for index in lineStart..<end where buffer[index] != 0x20 && buffer[index] != 0x09 {
                    blank = false
                    break
                }
                if blank {
                    if sawField { paragraphs.append(current) }
                    current = [:]
                    sawField = false
                    continue
                }
                let first = buffer[lineStart]
                if first == 0x20 || first == 0x09 || first == 0x23 { continue }  // continuation or comment
                var colon = lineStart
                while colon < end && buffer[colon] != 0x3A { colon += 1 }
                guard colon < end else { continue }
                sawField = true
                let key = UnsafeBufferPointer(rebasing: buffer[lineStart..<colon])
                guard let wanted = Self.wanted.first(where: { $0.elementsEqual(key) }) else { continue }
                var valueStart = colon + 1
                while valueStart < end && (buffer[valueStart] == 0x20 || buffer[valueStart] == 0x09) { valueStart += 1 }
                var valueEnd = end
                while valueEnd > valueStart && (buffer[valueEnd - 1] == 0x20 || buffer[valueEnd - 1] == 0x09) { valueEnd -= 1 }
                let name = String(decoding: wanted, as: UTF8.self)
                if current[name] == nil {
                    current[name] = String(decoding: UnsafeBufferPointer(rebasing: buffer[valueStart..<valueEnd]), as: UTF8.self)
                }
            }
        }
        if sawField { paragraphs.append(current) }
        return paragraphs
    }
}

extension Substring {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var s = self
        while let first = s.first, set.contains(first) { s.removeFirst() }
        while let last = s.last, set.contains(last) { s.removeLast() }
        return String(s)
    }
}

/// `var/lib/dpkg/info/<package>[:<arch>].list`: the files dpkg installed for a package. Only
/// the ones a language analyzer reads are kept (see `ImageInventory.packages`).
public struct DpkgFileListAnalyzer: Analyzer {
    public let name = "dpkg-files"
    public let byteLimit = 16 << 20
    public init() {}

    static let directory = "var/lib/dpkg/info/"

    public func claims(_ path: String) -> Bool {
        path.hasPrefix(Self.directory) && path.hasSuffix(".list") && !path.dropFirst(Self.directory.count).contains("/")
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var owned: [String] = []
        for line in contents.split(separator: 0x0A) {
            // "/usr/lib/python3/dist-packages/x.egg-info/PKG-INFO" → the archive's path.
            let file = String(decoding: line.drop { $0 == 0x2F }, as: UTF8.self)
            if Analyzers.ownedFileOfInterest(file) { owned.append(file) }
        }
        return AnalyzerResult(ownedFiles: owned)
    }
}
