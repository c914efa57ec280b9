import FathomCore
import Foundation

/// A package URL (github.com/package-url/purl-spec): how SBOMs and SARIF name a package.
/// `description` is the canonical form (qualifiers sorted, everything but unreserved
/// characters and `:` percent-encoded), as packageurl-python writes it.
public struct PackageURL: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var namespace: String?
    public var name: String
    public var version: String?
    public var qualifiers: [String: String]

    public init(type: String, namespace: String? = nil, name: String, version: String? = nil, qualifiers: [String: String] = [:]) {
        self.type = type
        self.namespace = namespace
        self.name = name
        self.version = version
        self.qualifiers = qualifiers.filter { !$0.value.isEmpty }
    }

    public var description: String {
        var text = "pkg:\(type)/"
        if let namespace, !namespace.isEmpty {
            text += namespace.split(separator: "/").map { Self.encode(String($0)) }.joined(separator: "/") + "/"
        }
        text += Self.encode(name)
        // A version or qualifier value keeps its slashes, as packageurl-python writes them.
        // None given (an SBOM's package without one) is no `@` (the purl spec has no empty version).
        if let version, !version.isEmpty { text += "@" + Self.encode(version, keepingSlashes: true) }
        if !qualifiers.isEmpty {
            text += "?" + qualifiers.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.encode($0.value, keepingSlashes: true))" }
                .joined(separator: "&")
        }
        return text
    }

    /// Parses `pkg:type/namespace/name@version?qualifiers#subpath` (the subpath is dropped).
    public init(parsing text: String) throws {
        guard text.hasPrefix("pkg:") else { throw FathomError(.invalidInput, "'\(text)' is not a package URL (pkg:type/name@version)") }
        var rest = Substring(text.dropFirst(4))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var qualifiers: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                qualifiers[parts[0].lowercased()] = try Self.decode(parts[1], in: text)
            }
            rest = rest[..<question]
        }
        while rest.hasPrefix("/") { rest = rest.dropFirst() }
        var version: String?
        if let at = rest.lastIndex(of: "@"), rest[at...].contains("/") == false {
            version = try Self.decode(rest[rest.index(after: at)...], in: text)
            rest = rest[..<at]
        }
        let segments = rest.split(separator: "/")
        guard segments.count >= 2 else { throw FathomError(.invalidInput, "'\(text)' has no type or no name") }
        let type = segments[0].lowercased()
        let namespace = try segments.dropFirst().dropLast().map { try Self.decode($0, in: text) }.joined(separator: "/")
        self.init(
            type: type, namespace: namespace.isEmpty ? nil : namespace, name: try Self.decode(segments[segments.count - 1], in: text),
            version: version, qualifiers: qualifiers)
    }

    static func encode(_ text: String, keepingSlashes: Bool = false) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if keepingSlashes && byte == UInt8(ascii: "/") {
                encoded.append("/")
                continue
            }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    static func decode(_ text: Substring, in purl: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw FathomError(.invalidInput, "'\(purl)' has a bad percent-encoding in '\(text)'")
        }
        return decoded
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

extension PackageURL {
    /// The purl of a package fathom found in an image whose OS is `osID` `osVersion` (the OS
    /// packages' namespace and `distro` come from them; their source package is the
    /// `upstream` qualifier, as Syft writes it). Nil for an ecosystem purl has no type for.
    public init?(
        ecosystem: String, name: String, version: String, arch: String?, source: Package.Source? = nil, osID: String?, osVersion: String?
    ) {
        let distro = osID.map { id in osVersion.map { "\(id)-\($0)" } ?? id } ?? ""
        var upstream = ""
        if let source, source.name != name || (source.version != nil && source.version != version) {
            upstream = source.name + (source.version.flatMap { $0 == version ? nil : "@\($0)" } ?? "")
        }
        switch ecosystem {
        case "deb", "apk":
            self.init(
                type: ecosystem, namespace: osID ?? (ecosystem == "deb" ? "debian" : "alpine"), name: name, version: version,
                qualifiers: ["arch": arch ?? "", "distro": distro, "upstream": upstream])
        case "rpm":
            // rpm's epoch is a qualifier; the version is version-release.
            var qualifiers = ["arch": arch ?? "", "distro": distro, "upstream": upstream]
            var plain = version
            if let colon = version.firstIndex(of: ":"), version[..<colon].allSatisfy(\.isNumber) {
                qualifiers["epoch"] = String(version[..<colon])
                plain = String(version[version.index(after: colon)...])
            }
            self.init(type: "rpm", namespace: osID, name: name, version: plain, qualifiers: qualifiers)
        case "pypi":
            // PEP 503 normalisation, as the purl spec asks.
            let normalised = name.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
            self.init(type: "pypi", name: normalised, version: version)
        case "npm", "go", "composer":
            let type = ecosystem == "go" ? "golang" : ecosystem
            if let slash = name.lastIndex(of: "/") {
                self.init(type: type, namespace: String(name[..<slash]), name: String(name[name.index(after: slash)...]), version: version)
            } else {
                self.init(type: type, name: name, version: version)
            }
        case "maven":
            let parts = name.split(separator: ":", maxSplits: 1)
            if parts.count == 2 {
                self.init(type: "maven", namespace: String(parts[0]), name: String(parts[1]), version: version)
            } else {
                self.init(type: "maven", name: name, version: version)
            }
        case "crates": self.init(type: "cargo", name: name, version: version)
        case "gem": self.init(type: "gem", name: name, version: version)
        case "nuget": self.init(type: "nuget", name: name, version: version)
        default: return nil
        }
    }

    /// The package this purl names, as fathom's analyzers would have found it at `path` (the
    /// inverse of `init(ecosystem:…)`); nil for a type fathom has no advisories for.
    public func package(path: String) -> Package? {
        guard let version else { return nil }
        var source: Package.Source?
        if let upstream = qualifiers["upstream"] {
            let parts = upstream.split(separator: "@", maxSplits: 1)
            source = Package.Source(name: String(parts[0]), version: parts.count == 2 ? String(parts[1]) : version)
        } else if Package.osEcosystems.contains(type) {
            source = Package.Source(name: name, version: version)
        }
        let arch = qualifiers["arch"]
        switch type {
        case "deb", "apk": return Package(ecosystem: type, name: name, version: version, arch: arch, source: source, path: path)
        case "rpm":
            let full = qualifiers["epoch"].map { "\($0):\(version)" } ?? version
            return Package(ecosystem: "rpm", name: name, version: full, arch: arch, source: source, path: path)
        case "pypi": return Package(ecosystem: "pypi", name: name, version: version, path: path)
        case "npm", "golang", "composer":
            let full = namespace.map { "\($0)/\(name)" } ?? name
            // Syft names Go's standard library `pkg:golang/stdlib@go1.20.1`, the toolchain's
            // spelling; a binary's build info gives v1.20.1, the form Go's advisories order.
            var version = version
            if type == "golang", full == "stdlib", version.hasPrefix("go"), version.dropFirst(2).first?.isNumber == true {
                version = "v" + version.dropFirst(2)
            }
            return Package(ecosystem: type == "golang" ? "go" : type, name: full, version: version, path: path)
        case "maven": return Package(ecosystem: "maven", name: namespace.map { "\($0):\(name)" } ?? name, version: version, path: path)
        case "cargo": return Package(ecosystem: "crates", name: name, version: version, path: path)
        case "gem": return Package(ecosystem: "gem", name: name, version: version, path: path)
        case "nuget": return Package(ecosystem: "nuget", name: name, version: version, path: path)
        default: return nil
        }
    }
}
