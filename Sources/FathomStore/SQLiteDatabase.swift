// A thin, checked wrapper over libsqlite3: every failure carries sqlite3_errmsg.
import CFathomSQLite
import FathomCore
import Foundation

/// One SQLite connection, shared by every task of a process: a recursive lock makes each
/// statement and each transaction run alone (one writer), so a transaction never interleaves
/// with another task's statements; statements are finalized before return.
final class SQLiteDatabase: @unchecked Sendable {
    let handle: OpaquePointer
    let path: String
    private let lock = NSRecursiveLock()

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close(db) }
            throw FathomError(.io, "cannot open the store: \(message)", path: path)
        }
        self.handle = db
        self.path = path
        sqlite3_busy_timeout(db, 10_000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { sqlite3_close(handle) }

    /// Rows the last statement changed.
    var changes: Int64 { Int64(sqlite3_changes(handle)) }

    var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func execute(_ sql: String) throws {
        lock.lock()
        defer { lock.unlock() }
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(error)
            throw FathomError(.io, "store statement failed: \(message)", path: path)
        }
    }

    /// Runs `body` in one IMMEDIATE transaction: all of it lands, or none.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Prepares, binds text/integer parameters, and steps through the rows.
    func query(_ sql: String, _ parameters: [SQLiteValue] = [], row: (Row) throws -> Void = { _ in }) throws {
        lock.lock()
        defer { lock.unlock() }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw FathomError(.io, "store statement failed to prepare: \(errorMessage)", path: path)
        }
        defer { sqlite3_finalize(statement) }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch parameter {
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, CFathomSQLite_transient())
            case .integer(let value): status = sqlite3_bind_int64(statement, position, value)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), CFathomSQLite_transient())
                }
            case .null: status = sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw FathomError(.io, "store bind failed: \(errorMessage)", path: path) }
        }
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw FathomError(.io, "store statement failed: \(errorMessage)", path: path) }
            try row(Row(statement: statement))
        }
    }

    struct Row {
        let statement: OpaquePointer
        func text(_ column: Int32) -> String? {
            guard let pointer = sqlite3_column_text(statement, column) else { return nil }
            return String(cString: pointer)
        }
        func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
    }
}

enum SQLiteValue {
    case text(String)
    case integer(Int64)
    case blob([UInt8])
    case null
}
