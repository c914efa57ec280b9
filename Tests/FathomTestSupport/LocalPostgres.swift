#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A real PostgreSQL server from Debian's packages (`initdb` + `postgres`) on 127.0.0.1, in a
/// temporary directory, started once per test process; each test takes a database of its own.
/// As root (CI), the server runs as the `postgres` user, which initdb requires.
public final class LocalPostgres: Sendable {
    public let port: Int
    public let directory: String
    private let binaries: String
    private let server: BackgroundServer

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
        let asOwner = getuid() == 0 ? "setpriv --reuid=postgres --regid=postgres --init-groups " : ""
        if getuid() == 0 { try await Tool.run(["chown", "-R", "postgres:postgres", directory]) }
        try await Tool.run(
            ["sh", "-c", "\(asOwner)\(binaries)/initdb -D \"$1/data\" -A trust -U fathom -E UTF8 --no-sync >\"$1/initdb.log\" 2>&1", "sh", directory])
        server = try await BackgroundServer(
            "\(asOwner)\(binaries)/postgres -D \"$1/data\" -p \(port) -k \"$1\" -c listen_addresses=127.0.0.1 -c fsync=off "
                + "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            argument: directory, port: port, log: directory + "/postgres.log")
    }

    public func stop() { server.stop() }

    /// A new empty database; returns its `postgres://` URL.
    public func database(_ label: String) async throws -> String {
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(UInt32.random(in: 0...UInt32.max))"
        try await Tool.run(["\(binaries)/createdb", "-h", "127.0.0.1", "-p", "\(port)", "-U", "fathom", name])
        return "postgres://fathom@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }
}
