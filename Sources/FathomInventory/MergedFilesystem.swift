/// The claimed files of an image with its layers applied in order, each remembering the
/// layer that last wrote it: an upper layer's file replaces a lower one, a whiteout deletes a
/// path and everything beneath it, an opaque directory hides what lower layers put in it.
public struct MergedFilesystem: Sendable {
    public struct Entry: Sendable, Hashable {
        public var fact: FileFact
        /// Index of the layer that wrote this version of the file.
        public var layer: Int
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Each path's versions since it was last deleted, oldest first (the last is `entries[path]`).
    public private(set) var history: [String: [Entry]] = [:]

    public init(layers: [LayerFacts]) {
        for (index, layer) in layers.enumerated() {
            // Whiteouts and opaque markers apply to lower layers only, so before this layer's files.
            for directory in layer.opaqueDirectories {
                let prefix = directory.isEmpty ? "" : directory + "/"
                entries = entries.filter { !$0.key.hasPrefix(prefix) }
                history = history.filter { !$0.key.hasPrefix(prefix) }
            }
            for path in layer.whiteouts {
                let prefix = path + "/"
                entries = entries.filter { $0.key != path && !$0.key.hasPrefix(prefix) }
                history = history.filter { $0.key != path && !$0.key.hasPrefix(prefix) }
            }
            for (path, fact) in layer.files {
                let entry = Entry(fact: fact, layer: index)
                entries[path] = entry
                history[path, default: []].append(entry)
            }
        }
    }

    /// Claimed links that lead to no file: a loop, a link to a missing target, or one to a path
    /// no analyzer reads. What they stand for is not in the report, and this says so.
    public var warnings: [String] {
        entries.filter { $0.value.fact.kind != .file && file(at: $0.key) == nil }.keys.sorted().map { path in
            let kind = entries[path]?.fact.kind == .hardLink ? "hard link" : "symbolic link"
            let target = entries[path]?.fact.linkTarget ?? ""
            return "\(path): the \(kind) to '\(target)' leads to no file fathom read (a loop, a missing target, or a file no analyzer reads); not read"
        }
    }

    /// The regular file at `path`, following symlinks and hard links (at most 16 hops).
    public func file(at path: String) -> Entry? {
        var current = path
        for _ in 0..<16 {
            guard let entry = entries[current] else { return nil }
            switch entry.fact.kind {
            case .file:
                return entry
            case .hardLink:
                current = entry.fact.linkTarget ?? ""
            case .symlink:
                let target = entry.fact.linkTarget ?? ""
                let base = target.hasPrefix("/") ? "" : Self.directory(of: current)
                current = Self.clean(base.isEmpty ? target : base + "/" + target)
            }
        }
        return nil
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// Resolves `.` and `..` components; `..` never climbs above the root.
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            if component == "." { continue }
            if component == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(component)
        }
        return parts.joined(separator: "/")
    }
}
