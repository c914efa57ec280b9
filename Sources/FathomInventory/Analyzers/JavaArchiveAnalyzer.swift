// Java archives: Maven coordinates from META-INF/maven/<group>/<artifact>/pom.properties
// (every shaded library keeps its own), else MANIFEST.MF and the file's name; nested archives
// two levels deep (an EAR's WAR's WEB-INF/lib; BOOT-INF/lib, lib/).
import FathomArchive
import FathomCore
import Foundation

/// `.jar`, `.war`, `.ear`.
public struct JavaArchiveAnalyzer: Analyzer {
    public let name = "java-archive"
    public let byteLimit = 64 << 20
    static let memberLimit = 1 << 20
    static let nestedLimit = 32 << 20
    /// Archives inside archives are read this many levels down: an EAR's WAR's `WEB-INF/lib`.
    static let nestingDepth = 2
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
        let nested = zip.members.filter { claims($0.name) }
        guard depth < Self.nestingDepth else {
            // Said, not skipped in silence: a library this deep is not checked.
            if !nested.isEmpty {
                result.warnings.append("\(path): \(nested.count) archive\(nested.count == 1 ? "" : "s") nested deeper than \(Self.nestingDepth + 1) levels not read (\(nested[0].name))")
            }
            return
        }
        for member in nested {
            do {
                let bytes = try zip.read(member, limit: Self.nestedLimit)
                analyze(archive: bytes, path: path + "!/" + member.name, depth: depth + 1, into: &result)
            } catch {
                result.warnings.append("\(path): \(member.name): \(error)")
            }
        }
    }

    /// An archive without pom.properties (Gradle's builds, older Ant ones): the artifact is its
    /// file's name (`log4j-core-2.14.1.jar`, as Maven names what it builds), else its manifest's
    /// `Implementation-Title` when that is an id (log4j's is "Apache Log4j Core", xerces' a class
    /// name); the version is `Implementation-Version`, else the file name's, else the OSGi
    /// `Bundle-Version` (guava's `31.1.0.jre` is Maven's `31.1-jre`: the OSGi form comes last); the
    /// group is `Implementation-Vendor-Id`, else `Bundle-SymbolicName` less its last part. Without
    /// a group the package is its artifact alone (coverage says when an advisory names it).
    static func withoutPOM(_ zip: ZipArchive, path: String, into result: inout AnalyzerResult) -> Package? {
        var attributes: [String: String] = [:]
        if let manifest = zip.members.first(where: { $0.name == "META-INF/MANIFEST.MF" }) {
            do {
                attributes = properties(try zip.read(manifest, limit: memberLimit), separator: ":").filter { !$0.value.isEmpty }
            } catch {
                result.warnings.append("\(path): \(manifest.name): \(error)")
            }
        }
        var file = fileCoordinates(path)
        let title = attributes["Implementation-Title"].flatMap { isArtifactID($0) ? $0 : nil }
        // A file name whose version the manifest's does not begin with was given by someone
        // else than the build (Debian ships spring-beans 4.3.30 as `spring3-beans-3.x.jar`): the
        // manifest's own id names the artifact then (`x-1.70.jar` of 1.70.0 keeps its name).
        if let named = file, let title, let version = attributes["Implementation-Version"], !version.hasPrefix(named.version) {
            file = (title, version)
        }
        guard let artifact = file?.artifact ?? title,
            let version = attributes["Implementation-Version"] ?? file?.version ?? attributes["Bundle-Version"]
        else { return nil }
        let groupID = attributes["Implementation-Vendor-Id"].flatMap { isArtifactID($0) ? $0 : nil }
            ?? attributes["Bundle-SymbolicName"].flatMap { group(from: $0) }
        return Package(ecosystem: "maven", name: groupID.map { "\($0):\(artifact)" } ?? artifact, version: version, path: path)
    }

    /// Qualifiers a Maven version carries after a dash (`31.1-jre`, `1.0-beta-2`): a word that is
    /// not one of them belongs to the artifact (`log4j-1.2-api-2.17.1.jar` is `log4j-1.2-api`).
    static let versionWords: Set<String> = [
        "alpha", "beta", "rc", "cr", "m", "milestone", "snapshot", "final", "release", "ga", "sp", "jre", "android", "incubating",
        "preview", "pre", "dev", "b", "a",
    ]

    /// `log4j-core-2.14.1.jar` → (`log4j-core`, `2.14.1`): the name up to a `-` that a digit
    /// follows, the first after which no word outside `versionWords` comes before more digits.
    static func fileCoordinates(_ path: String) -> (artifact: String, version: String)? {
        var name = Substring(path.split(separator: "/").last ?? "")
        for suffix in [".jar", ".war", ".ear"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        let isDigit = { (character: Character) in character.isASCII && character.isNumber }
        var index = name.startIndex
        while let dash = name[index...].firstIndex(of: "-") {
            let next = name.index(after: dash)
            index = next
            guard next < name.endIndex, isDigit(name[next]), dash > name.startIndex else { continue }
            let parts = name[next...].split(separator: "-")
            let foreignWord = parts.indices.contains { position in
                let part = parts[position]
                return part.allSatisfy(\.isLetter) && !versionWords.contains(part.lowercased())
                    && parts[(position + 1)...].contains { $0.first.map(isDigit) == true }
            }
            if !foreignWord { return (String(name[..<dash]), String(name[next...])) }
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

    /// `org.apache.logging.log4j.core` → `org.apache.logging.log4j`; a one-part name (`bcprov`)
    /// names no group.
    static func group(from symbolicName: String) -> String? {
        let base = symbolicName.split(separator: ";").first.map(String.init) ?? symbolicName
        let parts = base.split(separator: ".")
        return parts.count > 1 ? parts.dropLast().joined(separator: ".") : nil
    }
}
