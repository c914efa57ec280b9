@testable import FathomPostgresStore
import FathomTestSupport
import Foundation
import PostgresNIO
import Testing

/// The store's statements are prepared once per connection, and PostgresNIO remembers a failed
/// preparation for the connection's life: a statement must not stay broken after one.
@Suite(.timeLimit(.minutes(3))) struct PreparedStatementTests {
    @Test func aStatementFirstPreparedInAnAbortedTransactionWorksAfterIt() async throws {
        let location = try await LocalPostgres.shared.value.database("prepared")
        let store = try await PostgresStore.open(url: location)
        defer { Task { try? await store.close() } }
        // A text no other test prepares, so this connection prepares it here first.
        let sql = "SELECT 42::BIGINT AS answer /* \(UUID().uuidString) */"
        func answer(_ connection: PostgresConnection) async throws -> Int64? {
            var value: Int64?
            try await PreparedQuery.run(PostgresQuery(unsafeSQL: sql), on: connection, client: store.client, logger: store.logger) { row in
                value = try row.decode(Int64.self)
            }
            return value
        }
        let first = PreparedQuery.name(of: sql)
        try await store.client.withConnection { connection in
            try await connection.query("BEGIN", logger: store.logger)
            await #expect(throws: PSQLError.self) { try await connection.query("SELECT 1 / 0", logger: store.logger) }
            // The transaction is aborted: preparing the statement now fails (25P02).
            let aborted = await #expect(throws: PSQLError.self) { try await answer(connection) }
            #expect(aborted?.serverInfo?[.sqlState] == "25P02")
            try await connection.query("ROLLBACK", logger: store.logger)
            #expect(PreparedQuery.name(of: sql) != first, "the text is prepared again under a new name")
            // The same text on the same connection, once the transaction is over, answers.
            #expect(try await answer(connection) == 42)
            #expect(try await answer(connection) == 42)
            // An error only the execution meets (division by zero) keeps the statement's name.
            let division = "SELECT 1 / $1::INTEGER AS quotient /* \(UUID().uuidString) */"
            var binds = PostgresBindings()
            binds.append(Int32(1))
            try await PreparedQuery.run(PostgresQuery(unsafeSQL: division, binds: binds), on: connection, client: store.client, logger: store.logger) { _ in }
            let named = PreparedQuery.name(of: division)
            var zero = PostgresBindings()
            zero.append(Int32(0))
            let error = await #expect(throws: PSQLError.self) {
                try await PreparedQuery.run(PostgresQuery(unsafeSQL: division, binds: zero), on: connection, client: store.client, logger: store.logger) { _ in }
            }
            #expect(error?.serverInfo?[.sqlState] == "22012")
            #expect(PreparedQuery.name(of: division) == named)
        }
    }
}
