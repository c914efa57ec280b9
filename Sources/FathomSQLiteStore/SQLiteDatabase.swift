#if canImport(Glibc)
import Glibc
#endif
import FathomCore
public import FathomSQLite
import NIOPosix
import Synchronization

/// An SQLite file used from async code without blocking Swift concurrency's threads: every
/// statement runs on threads of its own (NIO thread pools, as sqlite-nio does). Writes go to
/// one writer thread with one connection, so they run one at a time in the order asked; in WAL
/// mode reads run on reader threads, each with its own connection, and never wait behind the
/// writer (a slow disk or a transaction held by another process stalls writes only).
public final class SQLiteDatabase: Sendable {
    public let path: String
    private let writer: SQLiteConnection
    private let writerThread: NIOThreadPool
    private let readerThreads: NIOThreadPool?
    private let readers: Locked<[SQLiteConnection]>
    private let closed = Atomic<Bool>(false)

    /// Opens (creating if needed) the database at `path` in WAL mode, runs `setUp` on the
    /// writer (migrations), then opens `readerCount` read-only connections.
    /// With `readOnly`, every connection is read-only (a store file this process may only
    /// read): `setUp` then checks rather than migrates, and any write fails.
    public static func open(
        path: String, readerCount: Int = 4, readOnly: Bool = false, setUp: @escaping @Sendable (SQLiteConnection) throws -> Void = { _ in }
    ) async throws -> SQLiteDatabase {
        // A file whose writer closed cleanly has no -wal: it is read as immutable (no -shm is
        // made, which a directory this process may not write would refuse); else read as is.
        let readMode: SQLiteConnection.Mode =
            readOnly ? (access(path + "-wal", F_OK) == 0 ? .readOnly : .immutable) : .readOnly
        let writerThread = NIOThreadPool(numberOfThreads: 1)
        writerThread.start()
        do {
            let writer = try await writerThread.runIfActive {
                if readOnly {
                    let connection = try SQLiteConnection(path: path, mode: readMode)
                    try setUp(connection)
                    return connection
                }
                let connection = try SQLiteConnection(path: path)
                try connection.execute("PRAGMA journal_mode=WAL")
                try connection.execute("PRAGMA synchronous=NORMAL")
                try connection.execute("PRAGMA foreign_keys=ON")
                try setUp(connection)
                return connection
            }
            // An in-memory database is private to its connection: it has no readers.
            let readerCount = path == ":memory:" || path.isEmpty ? 0 : max(0, readerCount)
            var readers: [SQLiteConnection] = []
            var readerThreads: NIOThreadPool?
            if readerCount > 0 {
                let pool = NIOThreadPool(numberOfThreads: readerCount)
                pool.start()
                readerThreads = pool
                do {
                    readers = try await pool.runIfActive {
                        try (0..<readerCount).map { _ in try SQLiteConnection(path: path, mode: readMode) }
                    }
                } catch {
                    try? await pool.shutdownGracefully()
                    throw error
                }
            }
            return SQLiteDatabase(
                path: path, writer: writer, writerThread: writerThread, readerThreads: readerThreads, readers: readers)
        } catch {
            try? await writerThread.shutdownGracefully()
            throw error
        }
    }

    private init(
        path: String, writer: SQLiteConnection, writerThread: NIOThreadPool, readerThreads: NIOThreadPool?,
        readers: [SQLiteConnection]
    ) {
        self.path = path
        self.writer = writer
        self.writerThread = writerThread
        self.readerThreads = readerThreads
        self.readers = Locked(readers)
    }

    deinit {
        // Work in flight holds the database, so nothing runs here; stop the threads.
        if !closed.exchange(true, ordering: .relaxed) {
            writerThread.shutdownGracefully { _ in }
            readerThreads?.shutdownGracefully { _ in }
        }
        // The readers close before the writer: the last connection to close removes the -wal
        // and -shm files only if it may write, and a read-only reader closing last left them.
        readers.withLock { $0.removeAll() }
    }

    /// Stops the threads once the work already asked for is done, and closes the readers (the
    /// writer closes last, with the database).
    public func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try await writerThread.shutdownGracefully()
        try await readerThreads?.shutdownGracefully()
        readers.withLock { $0.removeAll() }
    }

    /// Runs `body` on the writer connection, after every write asked for before it.
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let writer = self.writer
        return try await writerThread.runIfActive { try body(writer) }
    }

    /// Runs `body` on a reader connection (on the writer when there are none).
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        guard let readerThreads else { return try await write(body) }
        return try await readerThreads.runIfActive { try self.withReader(body) }
    }

    private func withReader<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        // One connection per reader thread: one is always free when a thread runs this.
        let connection = try readers.withLock { $0.popLast() } ?? SQLiteConnection(path: path, mode: .readOnly)
        defer { readers.withLock { $0.append(connection) } }
        return try body(connection)
    }
}
