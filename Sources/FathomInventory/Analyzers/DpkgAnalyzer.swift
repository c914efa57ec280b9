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
        }
        return result
    }
}

/// Parses deb822 paragraphs: `Field: value` lines, continuation lines starting with a space
/// or tab, paragraphs separated by blank lines. Only the first line of each field is kept
/// (fathom needs no multi-line field).
enum Deb822 {
    static func paragraphs(_ bytes: [UInt8]) -> [[String: String]] {
        var paragraphs: [[String: String]] = []
        var current: [String: String] = [:]
        let text = String(decoding: bytes, as: UTF8.self)
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                if !current.isEmpty { paragraphs.append(current) }
                current = [:]
                continue
            }
            if line.first == " " || line.first == "\t" || line.first == "#" { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            if current[key] == nil { current[key] = value }
        }
        if !current.isEmpty { paragraphs.append(current) }
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
