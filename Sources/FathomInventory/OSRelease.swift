import FathomCore
import Foundation
// https://www.freedesktop.org/software/systemd/man/latest/os-release.html

/// The operating system of an image, from `os-release` or a distribution's release file.
public struct OSRelease: Sendable, Hashable, Codable {
    /// `ID`, e.g. `debian`, `alpine`, `ubuntu`, `rhel`.
    public var id: String
    /// `VERSION_ID`, e.g. `12`, `3.19.1`, `22.04`.
    public var versionID: String?
    public var prettyName: String?
    /// `ID_LIKE`, e.g. `["rhel", "fedora"]`.
    public var idLike: [String]?
    /// The file it was read from.
    public var source: String
    /// The advisory namespace this OS's packages are matched in, e.g. `Debian:12`,
    /// `Alpine:v3.19`, `Ubuntu:22.04`, `Red Hat:9`; nil where fathom knows no feed's naming.
    public var namespace: String?

    /// The files looked at, most authoritative first (os-release(5): `/etc` overrides `/usr/lib`).
    public static let paths: Set<String> = [
        "etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/debian_version", "etc/redhat-release",
        "etc/system-release",
    ]

    /// Identifies the OS of a merged filesystem, or nil when it has no release file.
    public static func detect(in filesystem: MergedFilesystem) -> OSRelease? {
        for path in ["etc/os-release", "usr/lib/os-release"] {
            if let text = filesystem.file(at: path)?.fact.text, let release = parse(text, source: path) {
                return release
            }
        }
        if let text = filesystem.file(at: "etc/alpine-release")?.fact.text {
            let version = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return make(id: "alpine", versionID: version, prettyName: "Alpine Linux v\(version)", idLike: nil, source: "etc/alpine-release")
        }
        if let text = filesystem.file(at: "etc/debian_version")?.fact.text {
            let version = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let major = version.split(separator: ".").first.map(String.init)
            return make(id: "debian", versionID: major, prettyName: "Debian GNU/Linux \(version)", idLike: nil, source: "etc/debian_version")
        }
        for path in ["etc/redhat-release", "etc/system-release"] {
            if let text = filesystem.file(at: path)?.fact.text, let release = parseRedHatRelease(text, source: path) {
                return release
            }
        }
        return nil
    }

    /// Parses `KEY=value` lines (values may be quoted, with backslash escapes). Images of one
    /// base share the text: it is parsed once per text (a twentieth of a warm scan's CPU was
    /// parsing the same os-release again), and a few hundred distinct ones are kept.
    public static func parse(_ text: String, source: String) -> OSRelease? {
        let key = source + "\u{0}" + text
        if let known = parsed.withLock({ $0[key] }) { return known }
        let release = parseAfresh(text, source: source)
        parsed.withLock { parsed in
            if parsed.count >= 256 { parsed.removeAll() }
            parsed[key] = release
        }
        return release
    }

    private static let parsed = Locked<[String: OSRelease?]>([:])

    private static func parseAfresh(_ text: String, source: String) -> OSRelease? {
        var fields: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            var value = Substring(line[line.index(after: equals)...])
            if let quote = value.first, quote == "\"" || quote == "'", value.count >= 2, value.last == quote {
                value = value.dropFirst().dropLast()
            }
            // Escapes are rare; Foundation's replacing costs more than the rest of the parse.
            fields[key] = value.contains("\\") ? value.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\") : String(value)
        }
        guard let id = fields["ID"]?.lowercased(), !id.isEmpty else { return nil }
        return make(
            id: id, versionID: fields["VERSION_ID"], prettyName: fields["PRETTY_NAME"],
            idLike: fields["ID_LIKE"].map { $0.split(separator: " ").map(String.init) }, source: source)
    }

    static func parseRedHatRelease(_ text: String, source: String) -> OSRelease? {
        // "Red Hat Enterprise Linux release 8.9 (Ootpa)", "CentOS Linux release 7.9.2009 (Core)"
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard let range = line.range(of: " release ") else { return nil }
        let name = line[..<range.lowerBound].lowercased()
        let version = line[range.upperBound...].split(separator: " ").first.map(String.init)
        let id: String
        if name.contains("centos") { id = "centos" } else if name.contains("rocky") { id = "rocky" } else if name.contains("alma") {
            id = "almalinux"
        } else if name.contains("fedora") { id = "fedora" } else if name.contains("amazon") { id = "amzn" } else { id = "rhel" }
        return make(id: id, versionID: version, prettyName: line, idLike: nil, source: source)
    }

    public static func make(id: String, versionID: String?, prettyName: String?, idLike: [String]?, source: String) -> OSRelease {
        OSRelease(
            id: id, versionID: versionID, prettyName: prettyName, idLike: idLike, source: source,
            namespace: namespace(id: id, versionID: versionID))
    }

    /// The package type (`deb`, `apk`, `rpm`) whose versions and names an OS namespace's
    /// advisories are written for: Debian's and Ubuntu's for dpkg's, Alpine's, Wolfi's and
    /// Chainguard's for apk's, the others' (Red Hat, SUSE, Amazon…) for rpm's.
    public static func packageType(ofNamespace namespace: String) -> String {
        switch namespace.prefix { $0 != ":" } {
        case "Debian", "Ubuntu": "deb"
        case "Alpine", "Wolfi", "Chainguard": "apk"
        default: "rpm"
        }
    }

    /// The OSV-style ecosystem name for an OS's packages.
    static func namespace(id: String, versionID: String?) -> String? {
        // Rolling distributions: one namespace whatever the version.
        switch id {
        case "wolfi": return "Wolfi"
        case "chainguard": return "Chainguard"
        default: break
        }
        guard let versionID, !versionID.isEmpty else { return nil }
        let parts = versionID.split(separator: ".")
        let major = parts.first.map(String.init) ?? versionID
        switch id {
        case "debian": return "Debian:\(major)"
        case "ubuntu": return "Ubuntu:\(versionID)"
        case "alpine":
            guard parts.count >= 2 else { return "Alpine:v\(versionID)" }
            return "Alpine:v\(parts[0]).\(parts[1])"
        case "rhel", "centos": return "Red Hat:\(major)"
        case "rocky": return "Rocky Linux:\(major)"
        case "almalinux": return "AlmaLinux:\(major)"
        case "fedora": return "Fedora:\(major)"
        case "amzn": return "Amazon Linux:\(major)"
        case "mariner": return "Mariner:\(major)"
        case "azurelinux": return "Azure Linux:\(major)"
        case "sles", "sle_bci", "sle-micro": return "SUSE:\(versionID)"
        case "opensuse-leap": return "openSUSE:Leap \(versionID)"
        case "opensuse-tumbleweed": return "openSUSE:Tumbleweed"
        default: return nil
        }
    }
}
