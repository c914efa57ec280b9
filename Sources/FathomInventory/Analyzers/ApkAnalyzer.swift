// apk's installed database: https://wiki.alpinelinux.org/wiki/Apk_spec#Installed_Database_V2
// (one record per package, `K:value` lines, records separated by blank lines).

/// `lib/apk/db/installed`, or `usr/lib/apk/db/installed` where `lib` is merged into `usr/lib`
/// (Wolfi and Chainguard since their usr-merge; Grype and Trivy read it there too).
public struct ApkAnalyzer: Analyzer {
    public let name = "apk"
    public let byteLimit = 64 << 20
    public init() {}

    public func claims(_ path: String) -> Bool { path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed" }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var result = AnalyzerResult()
        var fields: [Character: String] = [:]
        var record = 0
        func flush() {
            defer { fields = [:] }
            guard !fields.isEmpty else { return }
            record += 1
            guard let name = fields["P"], !name.isEmpty, let version = fields["V"], !version.isEmpty else {
                result.warnings.append("\(path): record \(record) has no P: or V: line; skipped")
                return
            }
            let origin = fields["o"].flatMap { $0.isEmpty ? nil : $0 }
            result.packages.append(
                Package(
                    ecosystem: "apk", name: name, version: version, arch: fields["A"],
                    source: Package.Source(name: origin ?? name, version: version), path: path))
        }
        let text = String(decoding: contents, as: UTF8.self)
        var directory = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                directory = ""
                flush()
                continue
            }
            guard line.count >= 2, line[line.index(after: line.startIndex)] == ":", let key = line.first else {
                result.warnings.append("\(path): line '\(line.prefix(40))' is not K:value")
                continue
            }
            // A package's files: `F:` names a directory, the `R:` lines after it its files.
            if key == "F" { directory = String(line.dropFirst(2)) }
            if key == "R" {
                let file = directory.isEmpty ? String(line.dropFirst(2)) : directory + "/" + line.dropFirst(2)
                if Analyzers.ownedFileOfInterest(file) { result.ownedFiles.append(file) }
            }
            // The first occurrence wins (files repeat F:/R: lines; P, V, A, o appear once).
            if fields[key] == nil { fields[key] = String(line.dropFirst(2)) }
        }
        flush()
        return result
    }
}
