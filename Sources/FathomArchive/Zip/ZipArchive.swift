// ZIP (PKWARE APPNOTE 6.3.x): the end-of-central-directory record, the central directory and
// local headers; stored and deflated members (jar, war, ear, whl, egg). ZIP64 is not read.
import CFathomZlib
import FathomCore

/// A ZIP archive held in memory, read member by member with size limits.
public struct ZipArchive: Sendable {
    public struct Member: Sendable {
        public var name: String
        public var method: UInt16
        public var compressedSize: Int
        public var uncompressedSize: Int
        var crc32: UInt32
        var localHeaderOffset: Int
    }

    public let members: [Member]
    let bytes: [UInt8]

    /// Parses the central directory; throws `invalidInput` for anything that is not a ZIP.
    public init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        func u16(_ offset: Int) -> Int? { bytes.u16(offset, bigEndian: false).map(Int.init) }
        func u32(_ offset: Int) -> Int? { bytes.u32(offset, bigEndian: false).map(Int.init) }
        // The end record is in the last 64 KiB + 22 bytes (its comment is at most 65535 bytes).
        var end: Int?
        var index = bytes.count - 22
        while index >= max(0, bytes.count - 22 - 65535) {
            if bytes[index] == 0x50, u32(index) == 0x0605_4b50 {
                end = index
                break
            }
            index -= 1
        }
        guard let end, let count = u16(end + 10), let directoryOffset = u32(end + 16) else {
            throw FathomError(.invalidInput, "not a ZIP archive (no end of central directory)")
        }
        var members: [Member] = []
        var offset = directoryOffset
        for _ in 0..<count {
            guard u32(offset) == 0x0201_4b50, let method = u16(offset + 10), let crc = u32(offset + 16), let compressed = u32(offset + 20),
                let uncompressed = u32(offset + 24), let nameLength = u16(offset + 28), let extraLength = u16(offset + 30),
                let commentLength = u16(offset + 32), let local = u32(offset + 42), offset + 46 + nameLength <= bytes.count
            else { throw FathomError(.invalidInput, "the ZIP central directory is damaged") }
            let name = String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self)
            members.append(
                Member(
                    name: name, method: UInt16(method), compressedSize: compressed, uncompressedSize: uncompressed,
                    crc32: UInt32(crc), localHeaderOffset: local))
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.members = members
    }

    /// A member's contents, refusing members that claim more than `limit` bytes.
    public func read(_ member: Member, limit: Int) throws -> [UInt8] {
        guard member.uncompressedSize <= limit else {
            throw FathomError(.limitExceeded, "\(member.name) is \(member.uncompressedSize) bytes, over the \(limit)-byte limit")
        }
        let offset = member.localHeaderOffset
        guard offset + 30 <= bytes.count, bytes[offset] == 0x50, bytes[offset + 1] == 0x4b, bytes[offset + 2] == 3,
            bytes[offset + 3] == 4
        else { throw FathomError(.invalidInput, "\(member.name): local header missing") }
        let nameLength = Int(bytes.u16(offset + 26, bigEndian: false)!)
        let extraLength = Int(bytes.u16(offset + 28, bigEndian: false)!)
        let start = offset + 30 + nameLength + extraLength
        guard start + member.compressedSize <= bytes.count else {
            throw FathomError(.truncated, "\(member.name): data runs past the end of the archive")
        }
        let data = bytes[start..<(start + member.compressedSize)]
        let contents: [UInt8]
        switch member.method {
        case 0: contents = Array(data)
        case 8: contents = try Inflate.inflate(data, wrapper: .raw, expectedSize: member.uncompressedSize, limit: limit)
        default: throw FathomError(.unsupported, "\(member.name): compression method \(member.method)")
        }
        let checksum = contents.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        guard checksum == member.crc32 else {
            throw FathomError(.corruptCompression, "\(member.name): CRC-32 mismatch (the member is damaged)")
        }
        return contents
    }
}
