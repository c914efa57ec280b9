import FathomArchive
import FathomCore

/// Files of an OCI image layout or `docker save` archive, by their path inside it.
protocol LayoutStorage: Sendable {
    /// A file's bytes, or nil if there is no such file. Files over `limit` are refused.
    func read(_ path: String, limit: Int) throws -> [UInt8]?
    /// A stream of a file's bytes.
    func stream(_ path: String) throws -> ByteStream
    /// Where the storage is, for messages.
    var location: String { get }
}

/// An OCI layout in a directory.
struct DirectoryStorage: LayoutStorage {
    let root: String
    var location: String { root }

    func read(_ path: String, limit: Int) throws -> [UInt8]? {
        let full = root + "/" + path
        guard let file = try? ReadOnlyFile(path: full) else { return nil }
        return try file.readAll(limit: limit)
    }

    func stream(_ path: String) throws -> ByteStream {
        try ReadOnlyFile(path: root + "/" + path).stream()
    }
}

/// The members of an uncompressed tar archive, read in place with `pread`.
struct ArchiveStorage: LayoutStorage {
    struct Member: Sendable {
        var offset: Int64
        var size: Int64
    }

    let file: ReadOnlyFile
    let members: [String: Member]
    let location: String

    /// Indexes the archive by walking its headers (bodies are skipped, not read).
    init(file: ReadOnlyFile, location: String) throws {
        self.file = file
        self.location = location
        var members: [String: Member] = [:]
        var links: [String: (String, Bool)] = [:]
        try TarHeaderWalk.walk(size: file.size, location: location, read: { try file.read(at: $0, count: $1) }) { entry, offset in
            switch entry.kind {
            case .file: members[entry.path] = Member(offset: offset, size: entry.size)
            case .symlink, .hardLink: links[entry.path] = (entry.linkName, entry.kind == .hardLink)
            default: break
            }
        }
        // Resolve links between members (a `docker save` of images sharing a layer may link
        // them). Hard link names are archive paths; symlink targets are relative to their directory.
        for path in links.keys {
            var current = path
            for _ in 0..<16 {
                guard let (target, isHard) = links[current] else { break }
                current = Self.clean(isHard || target.hasPrefix("/") ? target : Self.join(Self.directory(of: current), target))
            }
            if let member = members[current] { members[path] = member }
        }
        self.members = members
    }

    func read(_ path: String, limit: Int) throws -> [UInt8]? {
        guard let member = members[TarEntry.normalize(path)] else { return nil }
        guard member.size <= Int64(limit) else {
            throw FathomError(.limitExceeded, "archive member of \(member.size) bytes is over the \(limit)-byte limit", path: path)
        }
        return try file.read(at: member.offset, count: Int(member.size))
    }

    func stream(_ path: String) throws -> ByteStream {
        guard let member = members[TarEntry.normalize(path)] else {
            throw FathomError(.notFound, "the archive \(location) has no member '\(path)'", path: path)
        }
        return file.stream(offset: member.offset, length: member.size)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    static func join(_ directory: String, _ relative: String) -> String {
        directory.isEmpty ? relative : directory + "/" + relative
    }

    /// Normalises `a/../b` style paths.
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            if component == "." { continue }
            if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(component)
        }
        return parts.joined(separator: "/")
    }
}
