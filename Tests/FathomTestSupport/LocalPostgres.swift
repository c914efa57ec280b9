#if canImport(Glibc)
import Glibc
#endif
import FathomCore
import Foundation

/// A real PostgreSQL server from Debian's packages (`initdb` + `postgres`) on 127.0.0.1, in a
/// temporary directory, started once per test process; each test takes a database of its own.
/// As root (CI), the server runs as the `postgres` user, which initdb requires.
public final class LocalPostgres: Sendable {
    public let port: Int
    public let directory: String
    private let binaries: String
    private let command: String
    private let asOwner: String
    private let server: Locked<BackgroundServer?>

    /// The server the tests of this process share.
    public static let shared = SharedFixture { try await LocalPostgres() }

    public init() async throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap(Int.init).max() else {
            throw RegistryUnavailable(reason: "PostgreSQL is not installed (apt-get install postgresql)")
        }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        directory = try Fixtures.temporaryDirectory("postgres")
        port = try freePort()
        // As root, everything runs as `postgres` (setpriv execs: no process stays between).
        asOwner = getuid() == 0 ? "setpriv --reuid=postgres --regid=postgres --init-groups " : ""
        if getuid() == 0 { try await Tool.run(["chown", "-R", "postgres:postgres", directory]) }
        try await Tool.run(
            ["sh", "-c", "\(asOwner)\(binaries)/initdb -D \"$1/data\" -A trust -U fathom -E UTF8 --no-sync >\"$1/initdb.log\" 2>&1", "sh", directory])
        command =
            "\(asOwner)\(binaries)/postgres -D \"$1/data\" -p \(port) -k \"$1\" -c listen_addresses=127.0.0.1 -c fsync=off "
            + "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        server = Locked(try await BackgroundServer(command, argument: directory, port: port, log: directory + "/postgres.log"))
    }

    /// Stops the server (its data stays); `start()` starts it again on the same port.
    public func stop() {
        guard let running = server.withLock({ server in defer { server = nil }; return server }) else { return }
        // A fast shutdown: a plain SIGTERM waits for every client (the service under test) to leave.
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        stop.arguments = ["sh", "-c", "\(asOwner)\(binaries)/pg_ctl -D \"$1/data\" -m fast -w stop", "sh", directory]
        stop.standardOutput = FileHandle.nullDevice
        stop.standardError = FileHandle.nullDevice
        if (try? stop.run()) != nil { stop.waitUntilExit() }
        running.stop()
    }

    /// `stop()` without holding a thread of the cooperative pool while PostgreSQL shuts down,
    /// for a test that times what follows.
    public func shutDown() async throws {
        guard let running = server.withLock({ server in defer { server = nil }; return server }) else { return }
        try await Tool.run(["sh", "-c", "\(asOwner)\(binaries)/pg_ctl -D \"$1/data\" -m fast -w stop", "sh", directory])
        await running.terminate()
    }

    public func start() async throws {
        let started = try await BackgroundServer(command, argument: directory, port: port, log: directory + "/postgres.log")
        server.withLock { $0 = started }
    }

    /// Adds `lines` at the top of pg_hba.conf (the first matching line decides) and reloads.
    public func allow(first lines: [String]) async throws {
        let path = directory + "/data/pg_hba.conf"
        let current = try String(contentsOfFile: path, encoding: .utf8)
        try (lines.joined(separator: "\n") + "\n" + current).write(toFile: path, atomically: false, encoding: .utf8)
        try await sql("SELECT pg_reload_conf()")
    }

    /// Runs `statement` as the superuser with psql.
    public func sql(_ statement: String, database: String = "postgres") async throws {
        try await Tool.run(["psql", "-q", "-h", "127.0.0.1", "-p", "\(port)", "-U", "fathom", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", statement])
    }

    /// What `query` answers, as psql prints it unaligned (a line per row, `|` between columns).
    public func query(_ query: String, database: String) async throws -> String {
        try await Tool.run(["psql", "-At", "-h", "127.0.0.1", "-p", "\(port)", "-U", "fathom", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", query])
            .text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new empty database; returns its `postgres://` URL.
    public func database(_ label: String) async throws -> String {
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(UInt32.random(in: 0...UInt32.max))"
        try await Tool.run(["\(binaries)/createdb", "-h", "127.0.0.1", "-p", "\(port)", "-U", "fathom", name])
        return "postgres://fathom@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }
}
