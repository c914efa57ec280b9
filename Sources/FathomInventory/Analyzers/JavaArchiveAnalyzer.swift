// Java archives: Maven coordinates from META-INF/maven/<group>/<artifact>/pom.properties
// (every shaded library keeps its own), else MANIFEST.MF; nested archives one level deep
// (WEB-INF/lib, BOOT-INF/lib, lib/).
import FathomCore
import FathomArchive

/// `.jar`, `.war`, `.ear`.
public struct JavaArchiveAnalyzer: Analyzer {
    public let name = "java-archive"
    public let byteLimit = 64 << 20
    static let memberLimit = 1 << 20
    static let nestedLimit = 32 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        path.hasSuffix(".jar") || path.hasSuffix(".war") || path.hasSuffix(".ear")
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var result = AnalyzerResult()
        analyze(archive: contents, path: path, depth: 0, into: &result)
        return result
    }

    func analyze(archive contents: [UInt8], path: String, depth: Int, into result: inout AnalyzerResult) {
        let zip: ZipArchive
        do {
            zip = try ZipArchive(contents)
        } catch {
            result.warnings.append("\(path): \(error)")
            return
        }
        var found: [Package] = []
        for member in zip.members where member.name.hasPrefix("META-INF/maven/") && member.name.hasSuffix("/pom.properties") {
            do {
                let properties = Self.properties(try zip.read(member, limit: Self.memberLimit))
                guard let group = properties["groupId"], let artifact = properties["artifactId"], let version = properties["version"],
                    !version.isEmpty
                else { continue }
                found.append(Package(ecosystem: "maven", name: "\(group):\(artifact)", version: version, path: path))
            } catch {
                result.warnings.append("\(path): \(member.name): \(error)")
            }
        }
        if found.isEmpty, let manifest = zip.members.first(where: { $0.name == "META-INF/MANIFEST.MF" }),
            let bytes = try? zip.read(manifest, limit: Self.memberLimit)
        {
            let attributes = Self.properties(bytes, separator: ":")
            let artifact = attributes["Implementation-Title"] ?? attributes["Bundle-SymbolicName"]
            let group = attributes["Implementation-Vendor-Id"] ?? attributes["Bundle-SymbolicName"].map { Self.group(from: $0) }
            if let artifact, let version = attributes["Implementation-Version"] ?? attributes["Bundle-Version"] {
                let name = group.map { "\($0):\(artifact)" } ?? artifact
                found.append(Package(ecosystem: "maven", name: name, version: version, path: path))
            }
        }
        result.packages += found
        guard depth == 0 else { return }
        for member in zip.members where claims(member.name) {
            do {
                let nested = try zip.read(member, limit: Self.nestedLimit)
                analyze(archive: nested, path: path + "!/" + member.name, depth: 1, into: &result)
            } catch {
                result.warnings.append("\(path): \(member.name): \(error)")
            }
        }
    }

    /// `key=value` (pom.properties) or `Key: value` (MANIFEST.MF) lines.
    static func properties(_ bytes: [UInt8], separator: Character = "=") -> [String: String] {
        var values: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard !line.hasPrefix("#"), let index = line.firstIndex(of: separator) else { continue }
            let key = line[..<index].trimmingCharacters(in: [" ", "\t"])
            let value = line[line.index(after: index)...].trimmingCharacters(in: [" ", "\t", "\r"])
            if values[key] == nil { values[key] = value }
        }
        return values
    }

    static func group(from symbolicName: String) -> String {
        let base = symbolicName.split(separator: ";").first.map(String.init) ?? symbolicName
        let parts = base.split(separator: ".")
        return parts.count > 1 ? parts.dropLast().joined(separator: ".") : base
    }
}
