public import FathomCore
public import FathomOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `rootfs:DIR`: an unpacked root file system (a CI job's, a VM image's, a chroot) scanned as an
/// image of one layer. The layer is the directory as a tar stream made while it is read, so the
/// same analyzers see the same entries as in a layer blob; nothing of it is cached (a directory
/// has no digest and may change), and `proc`, `sys` and `dev` at its top are left out.
public struct RootFSSource: ImageSource {
    public let directory: String
    public var displayName: String { "rootfs:\(directory)" }

    public init(directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FathomError(.notFound, "no directory at \(directory)", image: "rootfs:\(directory)")
        }
        self.directory = directory
    }

    public func resolve(platform: Platform) async throws -> ResolvedImage {
        // The config an image of this one layer would have (no diff_ids: the layer has no digest),
        // labelled with the directory: its digest is the image's key in the store, which keeps
        // one inventory per key for rescans; without the label every directory shared one, and a
        // rescan matched each with the inventory of the directory scanned last.
        let path = URL(fileURLWithPath: directory).standardizedFileURL.path
        let document: [String: Any] = [
            "os": "linux", "rootfs": ["type": "layers", "diff_ids": [String]()], "config": ["Labels": ["org.fathom.rootfs": path]],
        ]
        let bytes = [UInt8](try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        let config = try JSONDecoder().decode(ImageConfig.self, from: Data(bytes))
        return ResolvedImage(
            name: displayName, manifestDigest: nil, manifestMediaType: nil, configDigest: Digest.sha256(of: bytes), config: config,
            platform: nil, layers: [ImageLayer(mediaType: .ociLayer, digest: nil, size: 0, diffID: nil)])
    }

    public func withLayer<Result>(_ layer: ImageLayer, _ body: (ByteStream) async throws -> Result) async throws -> Result {
        let root = directory
        return try await body(
            ByteStream {
                let writer = DirectoryTarWriter(root: root)
                return { try writer.next() }
            })
    }
}

/// Writes a directory tree as a POSIX tar stream (ustar headers, PAX records for long names,
/// long link targets and large sizes), a chunk at a time: regular files, directories and
/// symbolic links; hard links as files; devices, FIFOs and sockets left out.
final class DirectoryTarWriter {
    let root: String
    private var paths: FileManager.DirectoryEnumerator?
    private var file: FileHandle?
    private var remaining: Int64 = 0
    private var padding = 0
    private var finished = false
    static let skippedAtTop: Set<String> = ["proc", "sys", "dev"]

    init(root: String) {
        self.root = root
        paths = FileManager.default.enumerator(atPath: root)
    }

    /// The next chunk of the stream, or nil after the two zero blocks that end it.
    func next() throws -> [UInt8]? {
        if let file {
            if remaining > 0 {
                let chunk = [UInt8](try file.read(upToCount: Int(min(remaining, 256 * 1024))) ?? Data())
                if chunk.isEmpty {
                    // The file shrank while it was read: pad it to what its header said.
                    let zeros = [UInt8](repeating: 0, count: Int(min(remaining, 256 * 1024)))
                    remaining -= Int64(zeros.count)
                    return zeros
                }
                remaining -= Int64(chunk.count)
                return chunk
            }
            try? file.close()
            self.file = nil
            defer { padding = 0 }
            if padding > 0 { return [UInt8](repeating: 0, count: padding) }
        }
        while let relative = paths?.nextObject() as? String {
            if paths?.level == 1, Self.skippedAtTop.contains(relative) {
                paths?.skipDescendants()
                continue
            }
            if let entry = try entry(relative) { return entry }
        }
        guard !finished else { return nil }
        finished = true
        return [UInt8](repeating: 0, count: 1024)
    }

    /// The header(s) of one path, opening a regular file for its body; nil for what a layer holds no entry of.
    private func entry(_ relative: String) throws -> [UInt8]? {
        let path = root + "/" + relative
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }  // gone since it was listed
        let mode = Int(info.st_mode & 0o7777)
        let mtime = Int64(info.st_mtim.tv_sec)
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return Self.header(name: relative + "/", mode: mode, size: 0, mtime: mtime, type: UInt8(ascii: "5"), link: "")
        case S_IFLNK:
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? ""
            return Self.header(name: relative, mode: mode, size: 0, mtime: mtime, type: UInt8(ascii: "2"), link: target)
        case S_IFREG:
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }  // unreadable: left out
            let size = Int64(info.st_size)
            file = handle
            remaining = size
            padding = Int((512 - size % 512) % 512)
            return Self.header(name: relative, mode: mode, size: size, mtime: mtime, type: UInt8(ascii: "0"), link: "")
        default:
            return nil
        }
    }

    /// A ustar header, preceded by a PAX header when a field does not fit.
    static func header(name: String, mode: Int, size: Int64, mtime: Int64, type: UInt8, link: String) -> [UInt8] {
        var records: [(String, String)] = []
        if name.utf8.count > 100 { records.append(("path", name)) }
        if link.utf8.count > 100 { records.append(("linkpath", link)) }
        if size > 0o77777777777 { records.append(("size", "\(size)")) }
        var bytes: [UInt8] = []
        if !records.isEmpty {
            var body: [UInt8] = []
            for (key, value) in records {
                // Each record is "LENGTH KEY=VALUE\n", its length counting its own digits.
                let rest = " \(key)=\(value)\n".utf8.count
                var length = rest + String(rest).count
                if String(length).count != String(rest).count { length = rest + String(length).count }
                body += Array("\(length) \(key)=\(value)\n".utf8)
            }
            bytes += block(name: "PaxHeader", mode: 0o644, size: Int64(body.count), mtime: mtime, type: UInt8(ascii: "x"), link: "")
            bytes += body + [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        }
        bytes += block(name: name, mode: mode, size: size > 0o77777777777 ? 0 : size, mtime: mtime, type: type, link: link)
        return bytes
    }

    private static func block(name: String, mode: Int, size: Int64, mtime: Int64, type: UInt8, link: String) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(max(0, mtime), at: 136, width: 12)
        put("        ", at: 148, width: 8)
        header[156] = type
        put(link, at: 157, width: 100)
        put("ustar\u{0}00", at: 257, width: 8)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(repeating: "0", count: max(0, 6 - String(sum, radix: 8).count)) + String(sum, radix: 8), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        return header
    }
}
