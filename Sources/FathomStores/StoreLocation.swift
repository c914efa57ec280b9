// The one place that knows every kind of store: a location (a path, sqlite:PATH or
// postgres://…) opens the store it names. Commands and the service open stores only through it.
import FathomCore
public import FathomPostgresStore
public import FathomSQLiteStore
public import FathomStore
import Foundation

/// Where the default store lives (the embedded SQLite file), for messages and for checking
/// that it exists without creating it.
public func defaultStoreLocation() -> String { SQLiteStore.defaultPath() }

/// Opens a store only to read it (`db stats`, `db status`, `version`): an SQLite file this
/// process may not write is opened read-only instead of failing, and one that is not there is
/// an error naming it (a mistyped path read as a new, empty store reads as zeros), and so is a
/// PostgreSQL database with no fathom tables; otherwise as `openStore(_:)`.
public func openStoreForReading(_ location: String?) async throws -> any Store {
    let path = sqlitePath(location)
    let isSQLite = location.map { !$0.contains("://") || $0.hasPrefix("sqlite://") } ?? true
    // (Not for a mistyped PostgreSQL URL: `openStore` refuses it without printing its password.)
    if isSQLite, !(location ?? "").lowercased().hasPrefix("postgres"), !FileManager.default.fileExists(atPath: path) {
        throw FathomError(.notFound, "no store here (fathom db update makes one)", path: path)
    }
    let directory = (path as NSString).deletingLastPathComponent
    if isSQLite, FileManager.default.fileExists(atPath: path),
        !FileManager.default.isWritableFile(atPath: path) || !FileManager.default.isWritableFile(atPath: directory.isEmpty ? "." : directory)
    {
        return try await SQLiteStore.open(path: path, readOnly: true)
    }
    return try await openStore(location, mustExist: true)
}

/// Opens a store that must be there already (`db prune`): an SQLite path with no file, or a
/// PostgreSQL database with no fathom tables, is an error naming it, not a new empty store;
/// otherwise as `openStore(_:)`.
public func openExistingStore(_ location: String?) async throws -> any Store {
    let lowered = location?.lowercased() ?? ""
    if !lowered.hasPrefix("postgres") {
        let path = sqlitePath(location)
        if !path.contains("://"), !FileManager.default.fileExists(atPath: path) {
            throw FathomError(.notFound, "no store here", path: path)
        }
    }
    return try await openStore(location, mustExist: true)
}

/// The file an SQLite location names (`sqlite://PATH`, `sqlite:PATH`, a path, or nil for the
/// default); other schemes come back as given.
func sqlitePath(_ location: String?) -> String {
    location.map { $0.hasPrefix("sqlite://") ? String($0.dropFirst(9)) : $0.hasPrefix("sqlite:") ? String($0.dropFirst(7)) : $0 }
        ?? SQLiteStore.defaultPath()
}

/// Opens the store `location` names: `sqlite:PATH` or a plain path (the embedded SQLite
/// store), or nil for the default one. `postgres://…` is the shared store of the service
/// (`genericPlans`: see `PostgresStore.open`).
public func openStore(_ location: String?, genericPlans: Bool = false, mustExist: Bool = false) async throws -> any Store {
    guard let location else { return try await SQLiteStore.open(path: SQLiteStore.defaultPath()) }
    let lowered = location.lowercased()
    if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
        // Schemes are case-insensitive; the store reads the lower-case one.
        let scheme = location.firstIndex(of: ":").map { location[$0...] } ?? ""
        return try await PostgresStore.open(url: (lowered.hasPrefix("postgresql") ? "postgresql" : "postgres") + scheme, genericPlans: genericPlans, mustExist: mustExist)
    }
    // A mistyped PostgreSQL URL (postgres:user:password@host, postgres//…) is not a file to
    // create: it would be named after the password. Refused, the password masked.
    if lowered.hasPrefix("postgres") {
        throw FathomError(.invalidInput, "not a PostgreSQL URL: postgres://user:password@host:port/database", path: PostgresStore.redacted(location))
    }
    if location.hasPrefix("sqlite://") { return try await SQLiteStore.open(path: String(location.dropFirst("sqlite://".count))) }
    if location.hasPrefix("sqlite:") { return try await SQLiteStore.open(path: String(location.dropFirst("sqlite:".count))) }
    if let scheme = location.range(of: "://") {
        throw FathomError(
            .invalidInput, "unknown store scheme '\(location[..<scheme.lowerBound])': use a path, sqlite:PATH or postgres://…",
            path: PostgresStore.redacted(location))
    }
    return try await SQLiteStore.open(path: location)
}
