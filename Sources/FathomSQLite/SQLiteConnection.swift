// The one wrapper over libsqlite3 in fathom: the store and the rpmdb reader both use it.
import CFathomSQLite
import FathomCore
import Foundation

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case blob([UInt8])
    case null
}

/// One row of a result, valid only inside the row callback.
public struct SQLiteRow {
    let statement: OpaquePointer

    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: pointer)
    }
    public func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    public func real(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// One SQLite connection: statements are prepared once and kept, every failure carries
/// `sqlite3_errmsg`. A connection is used by one thread at a time (`SQLiteDatabase` gives each
/// of its threads its own), which is why it may cross into a thread pool's closures.
public final class SQLiteConnection: @unchecked Sendable {
    public enum Mode: Sendable {
        case readWrite
        case readOnly
        /// Read-only, and no other process writes the file meanwhile: SQLite makes no `-shm`
        /// beside it, so a file in a directory this process may not write can be read.
        case immutable
    }

    let handle: OpaquePointer
    public let path: String
    private var statements: [String: OpaquePointer] = [:]

    public init(path: String, mode: Mode = .readWrite, busyTimeout: Duration = .seconds(30)) throws {
        var db: OpaquePointer?
        let flags: Int32
        var name = path
        switch mode {
        case .readWrite: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        case .readOnly: flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        case .immutable:
            flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
            // A URI filename: the characters that end or escape a path are percent-encoded.
            let escaped = path.map { character -> String in
                switch character {
                case "%": "%25"
                case "?": "%3f"
                case "#": "%23"
                default: String(character)
                }
            }.joined()
            name = "file:\(escaped)?immutable=1"
        }
        guard sqlite3_open_v2(name, &db, flags, nil) == SQLITE_OK, let db else {
            var message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close(db) }
            // SQLite says "unable to open database file" of a directory, a missing parent, a denied one.
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                message = "it is a directory, not a database file (name a file in it, such as \(path.hasSuffix("/") ? path : path + "/")fathom.db)"
            } else if !FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent) {
                message = "its directory \((path as NSString).deletingLastPathComponent) does not exist"
            }
            throw FathomError(.io, "cannot open the SQLite database: \(message)", path: path)
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, Int32(busyTimeout.components.seconds * 1000))
    }

    /// A read-only connection over a private copy of `bytes` (an SQLite file found in a layer):
    /// nothing touches the disk. A WAL-mode header is read as a rollback-journal database, so
    /// SQLite does not look for a `-wal` file beside it.
    public static func deserialized(_ bytes: [UInt8], name: String) throws -> SQLiteConnection {
        guard bytes.count >= 100, bytes.starts(with: Array("SQLite format 3\0".utf8)) else {
            throw FathomError(.invalidInput, "not an SQLite database", path: name)
        }
        let connection = try SQLiteConnection(path: ":memory:")
        guard let buffer = sqlite3_malloc64(sqlite3_uint64(bytes.count))?.assumingMemoryBound(to: UInt8.self) else {
            throw FathomError(.io, "out of memory for a \(bytes.count)-byte SQLite database", path: name)
        }
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        buffer[18] = 1
        buffer[19] = 1
        let flags = UInt32(SQLITE_DESERIALIZE_FREEONCLOSE) | UInt32(SQLITE_DESERIALIZE_READONLY)
        let size = sqlite3_int64(bytes.count)
        guard sqlite3_deserialize(connection.handle, "main", buffer, size, size, flags) == SQLITE_OK else {
            throw FathomError(.invalidInput, "sqlite3_deserialize: \(connection.errorMessage)", path: name)
        }
        return connection
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    /// Rows the last statement changed.
    public var changes: Int64 { Int64(sqlite3_changes(handle)) }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs one or more statements without parameters or results.
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(error)
            throw FathomError(.io, "SQLite statement failed: \(message)", path: path)
        }
    }

    /// Runs `body` in one IMMEDIATE transaction: all of it lands, or none.
    public func transaction<T>(_ body: () throws -> T) throws -> T { try inTransaction("BEGIN IMMEDIATE", body) }

    /// Runs `body`'s reads in one (deferred) transaction: every statement sees the database as
    /// the first one did, whatever is written meanwhile.
    public func snapshot<T>(_ body: () throws -> T) throws -> T { try inTransaction("BEGIN", body) }

    private func inTransaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs one statement (prepared on first use and kept), binding `parameters` in order, and
    /// hands each result row to `row`.
    public func query(_ sql: String, _ parameters: [SQLiteValue] = [], row: (SQLiteRow) throws -> Void = { _ in }) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch parameter {
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, CFathomSQLite_transient())
            case .integer(let value): status = sqlite3_bind_int64(statement, position, value)
            case .real(let value): status = sqlite3_bind_double(statement, position, value)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), CFathomSQLite_transient())
                }
            case .null: status = sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw FathomError(.io, "SQLite bind failed: \(errorMessage)", path: path) }
        }
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw FathomError(.io, "SQLite statement failed: \(errorMessage)", path: path) }
            try row(SQLiteRow(statement: statement))
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw FathomError(.io, "SQLite statement failed to prepare: \(errorMessage)", path: path)
        }
        statements[sql] = statement
        return statement
    }
}
