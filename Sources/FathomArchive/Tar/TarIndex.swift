import FathomCore

/// Walks the headers of a tar file that can be read at any offset (a `docker save` archive
/// on disk), skipping bodies instead of reading them.
public enum TarHeaderWalk {
    /// Calls `entry` with each entry (extended headers applied) and the offset of its body.
    /// - Parameters:
    ///   - size: the file's size in bytes.
    ///   - read: reads `count` bytes at an offset.
    ///   - location: the file, for errors.
    public static func walk(
        size: Int64, location: String, read: (_ offset: Int64, _ count: Int) throws -> [UInt8],
        entry: (_ entry: TarEntry, _ bodyOffset: Int64) throws -> Void
    ) throws {
        var pending = TarPendingMetadata()
        var offset: Int64 = 0
        var last: (path: String, end: Int64) = ("", 0)
        var ended = false
        while offset + Int64(TarHeader.blockSize) <= size {
            let block = try read(offset, TarHeader.blockSize)
            offset += Int64(TarHeader.blockSize)
            let isEnd = block.withUnsafeBytes { TarHeader.isZeroBlock($0) }
            if isEnd {
                ended = true
                break
            }
            let header: TarHeader
            do {
                header = try block.withUnsafeBytes { try TarHeader(block: $0) }
            } catch var error as FathomError {
                error.path = location
                throw error
            }
            let padded = (header.size + 511) / 512 * 512
            if TarPendingMetadata.isMetadata(header.typeflag) {
                guard header.size <= ByteLimits.tarMetadata else {
                    throw FathomError(.limitExceeded, "tar extended header is too large", path: location)
                }
                try pending.absorb(typeflag: header.typeflag, body: try read(offset, Int(header.size)))
                offset += padded
                continue
            }
            let made = pending.makeEntry(header)
            try entry(made, offset)
            last = (made.path, offset + made.size)
            offset += made.size == 0 ? 0 : padded
        }
        // Cut short (a copy or download that stopped), whatever the members before hold: a
        // member's body that runs past the end (its padding may be missing), or a part of a
        // header. Said, not read as a smaller archive.
        if last.end > size {
            throw FathomError(
                .truncated, "the archive ends at byte \(size), inside its member '\(last.path)' (\(last.end - size) bytes short)", path: location)
        }
        if !ended, offset < size, size - offset < Int64(TarHeader.blockSize),
            try read(offset, Int(size - offset)).contains(where: { $0 != 0 })
        {
            guard !last.path.isEmpty else {
                // Less than one header and nothing before it: most likely no tar at all.
                throw FathomError(
                    .truncated, "not a tar archive, or one cut short inside its first header (\(size) bytes, less than a 512-byte header)",
                    path: location)
            }
            throw FathomError(.truncated, "the archive ends at byte \(size), inside the header after '\(last.path)'", path: location)
        }
    }
}
