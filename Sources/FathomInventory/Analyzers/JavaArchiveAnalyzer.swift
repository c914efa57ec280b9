// Java archives: Maven coordinates from META-INF/maven/<group>/<artifact>/pom.properties
// (every shaded library keeps its own), else MANIFEST.MF and the file's name; nested archives
// one level deep (WEB-INF/lib, BOOT-INF/lib, lib/).
import FathomArchive
import FathomCore
import Foundation

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
        if found.isEmpty, let package = Self.withoutPOM(zip, path: path, into: &result) { found.append(package) }
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

    /// An archive without pom.properties (Gradle's builds, older Ant ones): the artifact is its
    /// manifest's `Implementation-Title` when that is an artifact id, else its file's name
    /// (`log4j-core-2.14.1.jar`; log4j's title is "Apache Log4j Core", which no advisory
    /// names); the version is `Implementation-Version`, else the file name's, else the OSGi
    /// `Bundle-Version` (normalised: guava's `31.1.0.jre` is Maven's `31.1-jre`); the group is
    /// `Implementation-Vendor-Id`, else `Bundle-SymbolicName` less its last part. Without a
    /// group the package is listed as its artifact alone, which coverage names as not checked.
    static func withoutPOM(_ zip: ZipArchive, path: String, into result: inout AnalyzerResult) -> Package? {
        var attributes: [String: String] = [:]
        if let manifest = zip.members.first(where: { $0.name == "META-INF/MANIFEST.MF" }) {
            do {
                attributes = properties(try zip.read(manifest, limit: memberLimit), separator: ":")
            } catch {
                result.warnings.append("\(path): \(manifest.name): \(error)")
            }
        }
        let file = fileCoordinates(path)
        let title = attributes["Implementation-Title"].flatMap { isArtifactID($0) ? $0 : nil }
        guard let artifact = title ?? file?.artifact,
            let version = attributes["Implementation-Version"] ?? file?.version ?? attributes["Bundle-Version"], !version.isEmpty
        else { return nil }
        let groupID = attributes["Implementation-Vendor-Id"].flatMap { isArtifactID($0) ? $0 : nil }
            ?? attributes["Bundle-SymbolicName"].map { group(from: $0) }
        return Package(ecosystem: "maven", name: groupID.map { "\($0):\(artifact)" } ?? artifact, version: version, path: path)
    }

    /// `log4j-core-2.14.1.jar` → (`log4j-core`, `2.14.1`): the name up to the first `-` that a
    /// digit follows, as Maven names what it builds (`artifactId-version.jar`).
    static func fileCoordinates(_ path: String) -> (artifact: String, version: String)? {
        var name = Substring(path.split(separator: "/").last ?? "")
        for suffix in [".jar", ".war", ".ear"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        var index = name.startIndex
        while let dash = name[index...].firstIndex(of: "-") {
            let next = name.index(after: dash)
            if next < name.endIndex, name[next].isASCII, name[next].isNumber {
                let artifact = String(name[..<dash])
                return artifact.isEmpty ? nil : (artifact, String(name[next...]))
            }
            index = next
        }
        return nil
    }

    /// A Maven id: letters, digits, `.`, `_` and `-` (not a title such as "Apache Log4j Core").
    static func isArtifactID(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
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
