// https://github.com/distribution/reference/blob/main/reference.go (grammar)
public import FathomCore

/// A registry image reference, `[registry/]repository[:tag][@digest]`, normalised the way
/// Docker does: no registry means Docker Hub (`index.docker.io`), and a one-component Docker Hub
/// repository lives under `library/`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry host, with port where one was given (`localhost:5000`).
    public var registry: String
    /// The repository path, e.g. `library/alpine`.
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public static let dockerHub = "index.docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses and normalises a reference; throws `invalidInput` naming what is wrong.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        guard !rest.isEmpty, rest.count <= 4096 else {
            throw FathomError(.invalidInput, "image reference '\(text)' is empty or too long")
        }
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            digest = try Digest(parsing: rest[rest.index(after: at)...])
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = Self.dockerHub
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            registry = first
            components.removeFirst()
            // A port is 1 to 65535: anything else is a typo, not a host to look up.
            if let colon = first.lastIndex(of: ":"), !first.hasSuffix("]") {
                let port = first[first.index(after: colon)...]
                guard let number = Int(port), (1...65535).contains(number) else {
                    throw FathomError(.invalidInput, "'\(text)': the registry port '\(port)' is not a port (1 to 65535)")
                }
            }
        }
        if ["docker.io", "registry-1.docker.io", "index.docker.io"].contains(registry.lowercased()) {
            registry = Self.dockerHub
            if components.count == 1 { components.insert("library", at: 0) }
        }
        guard !components.isEmpty, components.allSatisfy(Self.isValidPathComponent) else {
            throw FathomError(
                .invalidInput,
                "image reference '\(text)' has an invalid repository name (lower-case letters, digits and . _ - separators)")
        }
        if let tag, !Self.isValidTag(tag) {
            throw FathomError(.invalidInput, "image reference '\(text)' has an invalid tag '\(tag)'")
        }
        guard Self.isValidHost(registry) else {
            throw FathomError(.invalidInput, "image reference '\(text)' has an invalid registry host '\(registry)'")
        }
        self.registry = registry
        self.repository = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? "latest" : nil)
        self.digest = digest
    }

    /// `tag` or `digest`, as the manifest endpoint takes it (the digest wins when both are set).
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The host the registry API is served from (Docker Hub serves its API from `registry-1`).
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    static func isValidPathComponent(_ component: String) -> Bool {
        // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnumLower(first), isAlnumLower(last) else {
            return false
        }
        var index = 0
        while index < bytes.count {
            if isAlnumLower(bytes[index]) {
                index += 1
                continue
            }
            var run = index
            while run < bytes.count, !isAlnumLower(bytes[run]) { run += 1 }
            let separator = bytes[index..<run]
            let ok =
                separator.elementsEqual([UInt8(ascii: ".")]) || separator.elementsEqual([UInt8(ascii: "_")])
                || separator.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
                || separator.allSatisfy { $0 == UInt8(ascii: "-") }
            if !ok { return false }
            index = run
        }
        return true
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count), isWord(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isValidHost(_ host: String) -> Bool {
        guard !host.isEmpty else { return false }
        return host.utf8.allSatisfy {
            isAlnumLower($0) || ($0 >= 65 && $0 <= 90) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]")
        }
    }

    private static func isAlnumLower(_ byte: UInt8) -> Bool { (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) }
    private static func isWord(_ byte: UInt8) -> Bool {
        isAlnumLower(byte) || (byte >= 65 && byte <= 90) || byte == UInt8(ascii: "_")
    }
}
