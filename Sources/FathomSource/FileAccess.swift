#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FathomCore

/// An open, read-only file descriptor, closed when the last reference goes.
final class ReadOnlyFile: Sendable {
    let path: String
    let descriptor: Int32
    let size: Int64

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw FathomError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw FathomError(.io, "cannot stat: \(String(cString: strerror(errno)))", path: path)
        }
        self.path = path
        self.descriptor = fd
        self.size = Int64(info.st_size)
    }

    /// Takes ownership of an open descriptor.
    init(adopting descriptor: Int32, path: String) throws {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw FathomError(.io, "cannot stat: \(String(cString: strerror(errno)))", path: path)
        }
        self.path = path
        self.descriptor = descriptor
        self.size = Int64(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset` (fewer only at end of file).
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw FathomError(.io, "cannot read: \(String(cString: strerror(errno)))", path: path)
            }
            if result == 0 { break }
            done += result
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    /// Reads the whole file, refusing files over `limit` bytes.
    func readAll(limit: Int) throws -> [UInt8] {
        guard size <= Int64(limit) else {
            throw FathomError(.limitExceeded, "file of \(size) bytes is over the \(limit)-byte limit", path: path)
        }
        return try read(at: 0, count: Int(size))
    }

    /// A stream over `length` bytes from `offset`, read in 1 MiB chunks as the consumer asks.
    func stream(offset: Int64 = 0, length: Int64? = nil, chunkSize: Int = 1 << 20) -> ByteStream {
        let end = offset + (length ?? (size - offset))
        return ByteStream {
            var position = offset
            return {
                guard position < end else { return nil }
                let chunk = try self.read(at: position, count: Int(min(Int64(chunkSize), end - position)))
                if chunk.isEmpty {
                    throw FathomError(.truncated, "file ended at byte \(position), before \(end)", path: self.path)
                }
                position += Int64(chunk.count)
                return chunk
            }
        }
    }
}

/// Whether a path exists and is a directory.
func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}
