// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html (ustar and pax formats)
// https://www.gnu.org/software/tar/manual/html_node/Standard.html (GNU long names)
// https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md#whiteouts

/// One member of a tar stream, with PAX and GNU long-name records already applied.
public struct TarEntry: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case file
        case hardLink
        case symlink
        case directory
        case characterDevice
        case blockDevice
        case fifo
        /// `.wh.NAME`: deletes `whiteoutTarget` (and everything beneath it) from lower layers.
        case whiteout
        /// `.wh..wh..opq`: hides everything lower layers put in the directory `whiteoutTarget`.
        case opaqueWhiteout
        /// A type flag fathom does not interpret (sparse, volume label, …).
        case other(UInt8)
    }

    /// The name exactly as the archive states it (what `tar -tf` prints).
    public var name: String
    /// The name normalised for lookups: no leading `./` or `/`, no trailing `/`.
    public var path: String
    public var kind: Kind
    /// Body size in bytes (0 for links and directories).
    public var size: Int64
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var modificationTime: Int64
    /// Target of a symlink or hard link.
    public var linkName: String
    /// For whiteouts: the normalised path deleted, or the directory made opaque.
    public var whiteoutTarget: String?

    public init(
        name: String, path: String, kind: Kind, size: Int64, mode: UInt32, uid: Int, gid: Int, modificationTime: Int64,
        linkName: String, whiteoutTarget: String?
    ) {
        self.name = name
        self.path = path
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
        self.linkName = linkName
        self.whiteoutTarget = whiteoutTarget
    }

    /// Removes `./` and `/` prefixes, `/` suffixes and `.` components, and resolves `..` without
    /// ever climbing above the root: containerd unpacks `../../etc/passwd` to `etc/passwd` inside
    /// the layer (its `fs.RootPath`), so that is where the file is in the running container.
    public static func normalize(_ name: String) -> String {
        var components: [Substring] = []
        for component in name.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            if component == ".." {
                if !components.isEmpty { components.removeLast() }
            } else {
                components.append(component)
            }
        }
        return components.joined(separator: "/")
    }

    /// Whether `name` climbs above the layer's root (`../x`, `a/../../x`): an entry no honest
    /// layer builder writes.
    public static func escapesRoot(_ name: String) -> Bool {
        var depth = 0
        for component in name.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            depth += component == ".." ? -1 : 1
            if depth < 0 { return true }
        }
        return false
    }
}

/// What a handler wants done with an entry's body.
public enum TarBodyClaim: Sendable, Equatable {
    /// Skip the body unread.
    case skip
    /// Collect the body, if it is no larger than `limit` bytes, and hand it to `receive`.
    case collect(limit: Int)
    /// Hand the body to `receiveChunk` as it streams past (for files too large to hold,
    /// scanned for a few bytes: Go build information in a binary), then call `endOfBody`.
    case stream
}

/// Receives the entries of a tar stream as it is walked. Entries arrive in archive order.
public protocol TarEntryHandler {
    /// Called for every entry; the handler claims only the bodies it needs.
    mutating func claim(_ entry: TarEntry) -> TarBodyClaim
    /// Called with a claimed body. `complete` is false when the body was over the claim's
    /// limit: then `body` is empty and nothing was read.
    mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws
    /// Called with each run of a streamed body, in order.
    mutating func receiveChunk(_ entry: TarEntry, _ bytes: UnsafeRawBufferPointer) throws
    /// Called once after a streamed body's last byte.
    mutating func endOfBody(_ entry: TarEntry) throws
}

extension TarEntryHandler {
    public mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws {}
    public mutating func receiveChunk(_ entry: TarEntry, _ bytes: UnsafeRawBufferPointer) throws {}
    public mutating func endOfBody(_ entry: TarEntry) throws {}
}
