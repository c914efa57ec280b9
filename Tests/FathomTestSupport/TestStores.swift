public import FathomStore
import FathomStores

/// The two stores a test runs on: the embedded SQLite one, and a real PostgreSQL (one database per test).
public enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// A new, empty store of this kind, named after `label`.
    public func open(_ label: String) async throws -> any Store {
        switch self {
        case .sqlite: return try await openStore(try Fixtures.temporaryDirectory(label) + "/fathom.db")
        case .postgres: return try await openStore(try await LocalPostgres.shared.value.database(label))
        }
    }
}
