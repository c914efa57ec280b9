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

    /// Names for the texts seen so far (a store has a few dozen).
    private static let names = Locked<[String: String]>([:])

    static func name(of sql: String) -> String {
        if let known = names.withLock({ $0[sql] }) { return known }
        var hasher = DigestHasher()
        hasher.update(Array(sql.utf8))
        let name = "fathom_" + hasher.finalize().description.dropFirst("sha256:".count).prefix(24)
        names.withLock { $0[sql] = name }
        return name
    }

    /// Runs `query` prepared on `connection`, or on a pooled connection, handing each row to `each`.
    static func run(
        _ query: PostgresQuery, on connection: PostgresConnection?, client: PostgresClient, logger: Logger,
        _ each: (PostgresRow) throws -> Void
    ) async throws {
        try await $current.withValue((name(of: query.sql), query.sql)) {
            let statement = PreparedQuery(binds: query.binds)
            if let connection {
                for try await row in try await connection.execute(statement, logger: logger) { try each(row) }
            } else {
                for try await row in try await client.execute(statement, logger: logger) { try each(row) }
            }
        }
    }
}
