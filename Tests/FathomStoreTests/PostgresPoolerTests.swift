#if canImport(Glibc)
import Glibc
#endif
import FathomCore
@testable import FathomPostgresStore
import FathomStore
import FathomStores
import FathomTestSupport
import Foundation
import PostgresNIO
import Testing

/// A real PgBouncer (Debian's) in front of the test server, with its defaults: it refuses a
/// startup parameter it was not told to pass, such as the workers' `plan_cache_mode`. A worker
/// behind it connects anyway, without the parameter, and does its work.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PostgresPoolerTests {
    @Test func aWorkerBehindAPoolerThatRefusesItsPlanningModeStillWorks() async throws {
        guard Tool.has("pgbouncer") else {
            Issue.record("pgbouncer is needed: scripts/test installs it")
            return
        }
        let postgres = try await LocalPostgres.shared.value
        let direct = try await postgres.database("pooler")
        let directory = try Fixtures.temporaryDirectory("pgbouncer")
        let port = try freePort()
        try """
        [databases]
        * = host=127.0.0.1 port=\(postgres.port)
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = \(port)
        unix_socket_dir =
        auth_type = trust
        auth_file = \(directory)/users.txt
        pool_mode = session
        logfile = \(directory)/pgbouncer.log
        pidfile = \(directory)/pgbouncer.pid

        """.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        try "\"fathom\" \"\"\n".write(toFile: directory + "/users.txt", atomically: true, encoding: .utf8)
        // PgBouncer will not run as root.
        let asOwner = getuid() == 0 ? "setpriv --reuid=postgres --regid=postgres --init-groups " : ""
        if getuid() == 0 { try await Tool.run(["chown", "-R", "postgres:postgres", directory]) }
        let pooler = try await BackgroundServer("\(asOwner)pgbouncer \"$1/pgbouncer.ini\"", argument: directory, port: port, log: directory + "/out.log")
        defer {
            // Started from the test process, PgBouncer never logged the wrapper's SIGTERM (Go's
            // docker-registry does stop at it): killed, and its wrapper then ends.
            if let pid = (try? String(contentsOfFile: directory + "/pgbouncer.pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                kill(pid, SIGKILL)
            }
            pooler.stop()
        }
        let pooled = direct.replacingOccurrences(of: "127.0.0.1:\(postgres.port)/", with: "127.0.0.1:\(port)/")
        #expect(pooled != direct)

        // The pooler refuses the parameter itself, as PostgreSQL would not.
        var refusing = PostgresConnection.Configuration(
            host: "127.0.0.1", port: port, username: "fathom", password: nil, database: String(direct.split(separator: "/").last!.prefix { $0 != "?" }),
            tls: .disable)
        refusing.options.additionalStartupParameters = [("plan_cache_mode", "force_generic_plan")]
        let refused = await #expect(throws: PSQLError.self) {
            let connection = try await PostgresConnection.connect(configuration: refusing, id: 1, logger: Logger(label: "test"))
            try await connection.close()
        }
        #expect(refused?.serverInfo?[.message]?.hasPrefix("unsupported startup parameter") == true, "\(String(describing: refused))")

        // A worker's store opens through it, plans as PostgreSQL chooses, and takes jobs.
        let store = try #require(try await openStore(pooled, genericPlans: true) as? PostgresStore)
        var mode: String?
        try await store.run("SHOW plan_cache_mode") { mode = try $0.decode(String.self) }
        #expect(mode == "auto")
        let job = NewJob(kind: .scan, key: "scan r/a:1", image: "r/a:1", repository: "a", reference: "1")
        let id = try await store.enqueue(job, now: Date()).id
        #expect(try await store.claim(worker: "w", lease: .seconds(30), limit: 1, localSources: false, now: Date()).map(\.id) == [id])
        try await store.close()
        // Directly, the same store plans once per connection.
        let plain = try await PostgresStore.open(url: direct, genericPlans: true)
        try await plain.run("SHOW plan_cache_mode") { mode = try $0.decode(String.self) }
        #expect(mode == "force_generic_plan")
        try await plain.close()
    }
}
