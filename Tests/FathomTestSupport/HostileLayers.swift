public import Foundation

/// Builds the layers an attacker would push: tar headers written byte by byte (so they can claim
/// what no honest archiver writes), and decompression bombs made of repeated gzip members or
/// zstd frames, so a layer that expands to gigabytes takes megabytes and a second to make.
public enum HostileLayers {
    /// A ustar header. Sizes past the 11 octal digits ustar allows are written in GNU base-256,
    /// as GNU tar writes them.
    public static func header(name: String, size: Int64 = 0, type: Character = "0", linkName: String = "") -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, width: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
        }
        put(name, at: 0, width: 100)
        put(octal(0o644, width: 8), at: 100, width: 7)
        put(octal(0, width: 8), at: 108, width: 7)
        put(octal(0, width: 8), at: 116, width: 7)
        if size < 0o77777777777 {
            put(octal(size, width: 12), at: 124, width: 11)
        } else {
            block[124] = 0x80
            for index in 0..<8 { block[135 - index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        }
        put(octal(0, width: 12), at: 136, width: 11)
        block[156] = type.asciiValue!
        put(linkName, at: 157, width: 100)
        put("ustar\u{0}00", at: 257, width: 8)
        put("        ", at: 148, width: 8)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(Int64(sum), width: 7) + "\u{0} ", at: 148, width: 8)
        return block
    }

    /// A whole tar of small entries: (name, type, contents or link target).
    public static func tar(_ entries: [(name: String, type: Character, body: String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries {
            let isLink = entry.type == "1" || entry.type == "2"
            let body = isLink ? [] : Array(entry.body.utf8)
            bytes += header(name: entry.name, size: Int64(body.count), type: entry.type, linkName: isLink ? entry.body : "")
            bytes += body + [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        }
        return bytes + [UInt8](repeating: 0, count: 1024)
    }

    /// gzip of `bytes` by the system's gzip.
    public static func gzip(_ bytes: [UInt8]) async throws -> [UInt8] {
        [UInt8](try await Tool.run(["gzip", "-n", "-c"], input: Data(bytes)).stdout)
    }

    /// zstd of `bytes` by the system's zstd (with the content size in the frame header).
    public static func zstd(_ bytes: [UInt8]) async throws -> [UInt8] {
        let path = try Fixtures.temporaryDirectory("zstd-input") + "/input"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return [UInt8](try await Tool.run(["zstd", "-q", "-c", path]).stdout)
    }

    /// A gzip member holding `count` zero bytes (about 1 KB per MB: deflate's 1,032:1 ceiling).
    public static func gzipZeros(_ count: Int) async throws -> [UInt8] {
        [UInt8](try await Tool.run(["bash", "-c", "head -c \(count) /dev/zero | gzip -n -c"]).stdout)
    }

    /// A zstd frame holding `count` zero bytes (a few bytes per 128 KiB block).
    public static func zstdZeros(_ count: Int) async throws -> [UInt8] {
        [UInt8](try await Tool.run(["bash", "-c", "head -c \(count) /dev/zero | zstd -q -c"]).stdout)
    }

    /// A gzip layer: a tar header claiming `claimed` bytes for `name`, then `members` gzip
    /// members of `memberBytes` zeros each (gzip readers concatenate members, as `gzip -dc` does).
    public static func gzipBomb(name: String = "bomb", claimed: Int64, members: Int, memberBytes: Int) async throws -> [UInt8] {
        let zeros = try await gzipZeros(memberBytes)
        var blob = try await gzip(header(name: name, size: claimed))
        for _ in 0..<members { blob += zeros }
        return blob
    }

    /// A valid tar in gzip: `entries` files of `entryBytes` zeros each, every header honest, each
    /// header and each body its own gzip member.
    public static func gzipBombOfEntries(entries: Int, entryBytes: Int) async throws -> [UInt8] {
        let zeros = try await gzipZeros(entryBytes)
        var blob: [UInt8] = []
        for index in 0..<entries {
            blob += try await gzip(header(name: "bomb/\(index)", size: Int64(entryBytes)))
            blob += zeros
        }
        return blob + (try await gzip([UInt8](repeating: 0, count: 1024)))
    }

    /// The same with zstd frames (decoders read frame after frame).
    public static func zstdBomb(name: String = "bomb", claimed: Int64, frames: Int, frameBytes: Int) async throws -> [UInt8] {
        let zeros = try await zstdZeros(frameBytes)
        var blob = try await zstd(header(name: name, size: claimed))
        for _ in 0..<frames { blob += zeros }
        return blob
    }

    /// Rewrites a zstd frame's header to claim `contentSize` bytes in one segment: a decoder that
    /// trusted it would allocate a window of that size.
    public static func forgingContentSize(_ frame: [UInt8], to contentSize: UInt64) -> [UInt8] {
        precondition(frame.count > 6 && frame[0..<4] == [0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame")
        let descriptor = frame[4]
        let singleSegment = descriptor & 0x20 != 0
        let contentSizeField = [0, 2, 4, 8][Int(descriptor >> 6)] + (descriptor >> 6 == 0 && singleSegment ? 1 : 0)
        let dictionaryField = [0, 1, 2, 4][Int(descriptor & 0x03)]
        let headerLength = 5 + (singleSegment ? 0 : 1) + dictionaryField + contentSizeField
        // 8-byte content size, single segment, the original checksum flag, no dictionary.
        var forged: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0xe0 | (descriptor & 0x04)]
        for index in 0..<8 { forged.append(UInt8(truncatingIfNeeded: contentSize >> (8 * UInt64(index)))) }
        return forged + frame[headerLength...]
    }
}
