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
        var last = ""
        while offset + Int64(TarHeader.blockSize) <= size {
            let block = try read(offset, TarHeader.blockSize)
            offset += Int64(TarHeader.blockSize)
            let isEnd = block.withUnsafeBytes { TarHeader.isZeroBlock($0) }
            if isEnd { break }
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
            offset += made.size == 0 ? 0 : padded
            last = made.path
        }
        // A member whose body runs past the end: the file was cut short (a copy or download
        // that stopped), whatever the members before it hold. Said, not read as a smaller archive.
        if offset > size {
            throw FathomError(
                .truncated, "the archive ends at byte \(size), inside its member '\(last)' (\(offset - size) bytes short, padding included)",
                path: location)
        }
    }
}
