// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06 (ustar header)
import FathomCore

/// The fields of one 512-byte tar header block, checksum verified.
struct TarHeader {
    static let blockSize = 512

    var name: String
    var mode: UInt32
    var uid: Int
    var gid: Int
    var size: Int64
    var modificationTime: Int64
    var typeflag: UInt8
    var linkName: String

    static func isZeroBlock(_ block: UnsafeRawBufferPointer) -> Bool {
        // Word-wise check: end-of-archive blocks are common at the end of every layer.
        let words = UnsafeRawBufferPointer(rebasing: block[0..<TarHeader.blockSize])
        var index = 0
        while index < TarHeader.blockSize {
            if words.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        return true
    }

    /// Decodes a header block; throws `corruptTar` when its checksum does not match.
    init(block: UnsafeRawBufferPointer) throws {
        precondition(block.count >= Self.blockSize)
        var unsignedSum = 0
        var signedSum = 0
        for index in 0..<Self.blockSize {
            let byte = (148..<156).contains(index) ? UInt8(ascii: " ") : block[index]
            unsignedSum += Int(byte)
            signedSum += Int(Int8(bitPattern: byte))
        }
        guard let stored = Self.number(block, 148, 8), stored == Int64(unsignedSum) || stored == Int64(signedSum)
        else {
            // The name field is shown only when it is text: random bytes would reach the terminal.
            let name = Self.string(block, 0, 100)
            let shown = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } ? "header '\(name)'" : "a header whose name is not text"
            throw FathomError(.corruptTar, "tar header checksum mismatch (\(shown): corrupt, or this is not a tar stream)")
        }
        let magic = Array(block[257..<263])
        let isPOSIX = magic == Array("ustar\0".utf8)
        var name = Self.string(block, 0, 100)
        if isPOSIX {
            let prefix = Self.string(block, 345, 155)
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        guard let size = Self.number(block, 124, 12), size >= 0 else {
            throw FathomError(.corruptTar, "tar header for '\(name)' has an invalid size field")
        }
        self.name = name
        self.mode = UInt32(truncatingIfNeeded: Self.number(block, 100, 8) ?? 0)
        self.uid = Int(Self.number(block, 108, 8) ?? 0)
        self.gid = Int(Self.number(block, 116, 8) ?? 0)
        self.size = size
        self.modificationTime = Self.number(block, 136, 12) ?? 0
        self.typeflag = block[156]
        self.linkName = Self.string(block, 157, 100)
    }

    /// A NUL-terminated string field.
    static func string(_ block: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> String {
        let field = block[offset..<(offset + length)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[..<end], as: UTF8.self)
    }

    /// An octal field (space/NUL padded) or a GNU base-256 field (high bit set).
    static func number(_ block: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> Int64? {
        let field = block[offset..<(offset + length)]
        if let first = field.first, first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }  // negative base-256: not a valid size/id
            var value: Int64 = Int64(first & 0x3f)
            for byte in field.dropFirst() {
                guard value < (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value < (Int64.max >> 3) else { return nil }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }
}

/// Overrides that PAX (`x`) and GNU long-name (`L`, `K`) records carry to the next entry.
struct TarPendingMetadata {
    var path: String?
    var linkPath: String?
    var size: Int64?
    var uid: Int?
    var gid: Int?
    var modificationTime: Int64?

    static func isMetadata(_ typeflag: UInt8) -> Bool {
        typeflag == UInt8(ascii: "x") || typeflag == UInt8(ascii: "g") || typeflag == UInt8(ascii: "L")
            || typeflag == UInt8(ascii: "K")
    }

    /// Takes in the body of a metadata record.
    mutating func absorb(typeflag: UInt8, body: [UInt8]) throws {
        switch typeflag {
        case UInt8(ascii: "L"):
            path = Self.cString(body)
        case UInt8(ascii: "K"):
            linkPath = Self.cString(body)
        case UInt8(ascii: "x"):
            for (key, value) in try Self.paxRecords(body) {
                switch key {
                case "path": path = value
                case "linkpath": linkPath = value
                case "size":
                    guard let parsed = Int64(value), parsed >= 0 else {
                        throw FathomError(.corruptTar, "PAX size record '\(value)' is not a byte count")
                    }
                    size = parsed
                case "uid": uid = Int(value)
                case "gid": gid = Int(value)
                case "mtime": modificationTime = Int64(value.prefix { $0 != "." })
                default: break
                }
            }
        default:
            break  // global PAX headers ('g') hold defaults fathom does not need
        }
    }

    /// Builds the entry for `header`, applying and clearing the pending overrides.
    mutating func makeEntry(_ header: TarHeader) -> TarEntry {
        defer { self = TarPendingMetadata() }
        let name = path ?? header.name
        let typeflag = header.typeflag
        var kind: TarEntry.Kind
        switch typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            kind = name.hasSuffix("/") && typeflag == 0 ? .directory : .file
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default: kind = .other(typeflag)
        }
        let normalized = TarEntry.normalize(name)
        var whiteoutTarget: String?
        if kind == .file {
            let slash = normalized.lastIndex(of: "/")
            let base = slash.map { normalized[normalized.index(after: $0)...] } ?? normalized[...]
            let dir = slash.map { String(normalized[..<$0]) } ?? ""
            if base == ".wh..wh..opq" {
                kind = .opaqueWhiteout
                whiteoutTarget = dir
            } else if base.hasPrefix(".wh..wh.") {
                kind = .other(typeflag)  // AUFS bookkeeping (.wh..wh.plnk and the like)
            } else if base.hasPrefix(".wh.") {
                kind = .whiteout
                let target = String(base.dropFirst(4))
                whiteoutTarget = dir.isEmpty ? target : dir + "/" + target
            }
        }
        // Header-only types carry no body whatever their size field says (as Go's archive/tar).
        let hasBody: Bool
        switch kind {
        case .hardLink, .symlink, .characterDevice, .blockDevice, .directory, .fifo: hasBody = false
        default: hasBody = true
        }
        return TarEntry(
            name: name, path: normalized, kind: kind, size: hasBody ? (size ?? header.size) : 0,
            mode: header.mode, uid: uid ?? header.uid, gid: gid ?? header.gid,
            modificationTime: modificationTime ?? header.modificationTime,
            linkName: linkPath ?? header.linkName, whiteoutTarget: whiteoutTarget)
    }

    static func cString(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `"%d %s=%s\n"` records.
    static func paxRecords(_ body: [UInt8]) throws -> [(String, String)] {
        var records: [(String, String)] = []
        var offset = 0
        while offset < body.count {
            if body[offset] == 0 { break }  // NUL padding after the last record
            guard let space = body[offset...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: body[offset..<space], as: UTF8.self)),
                length > space - offset, offset + length <= body.count, body[offset + length - 1] == UInt8(ascii: "\n"),
                let equals = body[(space + 1)..<(offset + length)].firstIndex(of: UInt8(ascii: "="))
            else {
                throw FathomError(.corruptTar, "PAX extended header has a malformed record at byte \(offset)")
            }
            let key = String(decoding: body[(space + 1)..<equals], as: UTF8.self)
            let value = String(decoding: body[(equals + 1)..<(offset + length - 1)], as: UTF8.self)
            records.append((key, value))
            offset += length
        }
        return records
    }
}
