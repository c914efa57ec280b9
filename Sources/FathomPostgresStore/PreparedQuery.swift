import FathomCore
import PostgresNIO

/// Any of the store's queries as a named prepared statement: parsed and planned once per
/// connection, then only bound and executed. PostgreSQL spends about 90 µs of CPU on a short
/// statement sent unnamed (parse, analyse, plan, execute) and 35 µs on the same statement
/// prepared (pgbench, this machine), and the worker path sends a few dozen per image.
///
/// PostgresNIO names a prepared statement and its SQL by the statement's type; the store's
/// queries are built at their call sites, so this one type reads both from a task-local set
/// around each execution. The name is a digest of the SQL: two texts never share one.
struct PreparedQuery: PostgresPreparedStatement {
    typealias Row = PostgresRow

    @TaskLocal static var current = (name: "", sql: "")
    static var name: String { current.name }
    static var sql: String { current.sql }

    let binds: PostgresBindings

    func makeBindings() -> PostgresBindings { binds }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }

    /// Names for the texts seen so far (a store has a few dozen), and how often each was renamed.
    private static let names = Locked<[String: (name: String, renamed: Int)]>([:])

    static func name(of sql: String) -> String {
        if let known = names.withLock({ $0[sql]?.name }) { return known }
        let name = baseName(of: sql)
        names.withLock { $0[sql] = $0[sql] ?? (name, 0) }
        return name
    }

    private static func baseName(of sql: String) -> String {
        var hasher = DigestHasher()
        hasher.update(Array(sql.utf8))
        return "fathom_" + hasher.finalize().description.dropFirst("sha256:".count).prefix(24)
    }

    /// Gives `sql` a name not used before. PostgresNIO keeps a statement whose preparation failed
    /// as failed for the connection's whole life, and answers every later use with that error
    /// (one prepared first inside a transaction an earlier error had aborted fails for ever with
    /// 25P02). A server error does not say whether it came from the preparation or the execution,
    /// so after one a preparation can end with, the next use prepares the text again under a new
    /// name. Errors only an execution meets (a conflict, a deadlock, a full disk) keep the name:
    /// each rename leaves a prepared statement behind on the connections that had it.
    static func rename(_ sql: String) {
        names.withLock { names in
            let renamed = (names[sql]?.renamed ?? 0) + 1
            names[sql] = (baseName(of: sql) + "_\(renamed)", renamed)
        }
    }

    /// The SQLSTATEs a preparation (parse and analysis) can fail with: an aborted transaction
    /// (25P02), a statement cancelled or timed out (57014) or waiting too long for a lock on a
    /// table (55P03), a name or object PostgreSQL does not know or a syntax it refuses (class 42,
    /// as during a migration by a newer fathom), and what "cached plan must not change result
    /// type" and an unknown statement name come as (0A000, 26000).
    static func mayEndAPreparation(_ state: String?) -> Bool {
        guard let state else { return false }
        return ["25P02", "57014", "55P03", "0A000", "26000"].contains(state) || state.hasPrefix("42")
    }

    /// Runs `query` prepared on `connection`, or on a pooled connection, handing each row to `each`.
    static func run(
        _ query: PostgresQuery, on connection: PostgresConnection?, client: PostgresClient, logger: Logger,
        _ each: (PostgresRow) throws -> Void
    ) async throws {
        try await $current.withValue((name(of: query.sql), query.sql)) {
            let statement = PreparedQuery(binds: query.binds)
            do {
                if let connection {
                    for try await row in try await connection.execute(statement, logger: logger) { try each(row) }
                } else {
                    for try await row in try await client.execute(statement, logger: logger) { try each(row) }
                }
            } catch let error as PSQLError where error.code == .server {
                if Self.mayEndAPreparation(error.serverInfo?[.sqlState]) { rename(query.sql) }
                throw error
            }
        }
    }
}
