// Core metadata (https://packaging.python.org/en/latest/specifications/core-metadata/):
// RFC 822-style `Key: value` headers, in `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`,
// `EGG-INFO/PKG-INFO` and single-file `*.egg-info`, and inside zipped `.egg` files (and the
// `.whl` files an SBOM or a caller hands in; an image's wheels are not installed packages).
import FathomArchive

/// Installed Python distributions.
public struct PythonAnalyzer: Analyzer {
    public let name = "python"
    public let byteLimit = 4 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        guard !Self.isTestData(path) else { return false }
        // A zipped egg on sys.path is imported as it is; a wheel is only ever unpacked by pip
        // (pip's cache, `ensurepip/_bundled`): what it installed has a dist-info, which is read.
        if path.hasSuffix(".egg") { return true }
        if path.hasSuffix(".dist-info/METADATA") || path.hasSuffix(".egg-info/PKG-INFO") || path.hasSuffix("EGG-INFO/PKG-INFO") {
            return true
        }
        return path.hasSuffix(".egg-info") && (path.contains("site-packages/") || path.contains("dist-packages/"))
    }

    /// Whether `path` lies in a test suite's folder inside a Python installation: CPython's own
    /// (`lib/python3.11/test/test_importlib/data/example-21.12-py3.6.egg`) or a package's
    /// (`site-packages/pkg_resources/tests/data/…/my_test_package-1.0-py3.7.egg`). Those are
    /// fixtures the tests read, never on `sys.path`; a distribution is installed beside its
    /// code, not inside a `test` or `tests` folder below `lib/pythonX.Y`.
    static func isTestData(_ path: String) -> Bool {
        let folders = path.split(separator: "/").dropLast()
        guard let python = folders.indices.first(where: { index in
            index > folders.startIndex && folders[index].hasPrefix("python") && folders[index - 1].hasPrefix("lib")
        }) else { return false }
        return folders[(python + 1)...].contains { $0 == "test" || $0 == "tests" }
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        guard path.hasSuffix(".egg") || path.hasSuffix(".whl") else { return metadata(path: path, contents: contents) }
        do {
            let zip = try ZipArchive(contents)
            guard let member = zip.members.first(where: { $0.name == "EGG-INFO/PKG-INFO" || $0.name.hasSuffix(".dist-info/METADATA") })
            else { return AnalyzerResult() }
            return metadata(path: path, contents: try zip.read(member, limit: byteLimit))
        } catch {
            return AnalyzerResult(warnings: ["\(path): \(error)"])
        }
    }

    func metadata(path: String, contents: [UInt8]) -> AnalyzerResult {
        var name: String?
        var version: String?
        // Only the headers are read: the body (often the whole README) follows the first blank line.
        var headerEnd = contents.count
        for index in contents.indices.dropFirst() where contents[index] == 0x0A {
            if contents[index - 1] == 0x0A || (contents[index - 1] == 0x0D && index >= 2 && contents[index - 2] == 0x0A) {
                headerEnd = index
                break
            }
        }
        let text = String(decoding: contents[..<headerEnd], as: UTF8.self)
        // By Character: a CRLF ("\r\n", as Windows-built wheels write METADATA) is one newline.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":"), line.first != " " && line.first != "\t" else { continue }
            let key = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t", "\r"])
            // Repeated keys: the first wins.
            if key == "name", name == nil { name = value }
            if key == "version", version == nil { version = value }
            if name != nil && version != nil { break }
        }
        guard let name, !name.isEmpty, let version, !version.isEmpty else {
            return AnalyzerResult(warnings: ["\(path): no Name and Version in the package metadata"])
        }
        return AnalyzerResult(packages: [Package(ecosystem: "pypi", name: name, version: version, path: path)])
    }
}
