import FathomTestSupport
import Foundation
import Testing

/// Retention through both front doors that prune: `fathom db prune` and `fathom serve
/// --retention` (at its start, then hourly). The rows are made old with the database's own
/// client, as a store in use for months would hold them.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RetentionTests {
    static func sql(_ statement: String, backend: String, store: String) async throws {
        if backend == "postgres" {
            try await LocalPostgres.shared.value.sql(statement, database: try #require(URL(string: store)?.lastPathComponent))
        } else {
            try await Tool.sqlite(store, statement)
        }
    }

    /// A done job of a name and a registry event from long ago, and a done job of the name from now.
    static func seed(_ backend: String, store: String, suffix: String) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await sql(
            """
            INSERT INTO jobs (kind, job_key, image, repository, reference, state, not_before, created_at, updated_at) VALUES
                ('scan', 'old-\(suffix)', 'r.example/app:\(suffix)', 'app', '\(suffix)', 'done', 0, 0, 1000),
                ('scan', 'new-\(suffix)', 'r.example/app:\(suffix)', 'app', '\(suffix)', 'done', \(now), \(now), \(now));
            INSERT INTO registry_events (id, action, repository, tag, at) VALUES ('e-\(suffix)', 'push', 'old', '\(suffix)', 1);
            """, backend: backend, store: store)
    }

    static func jobKeys(_ backend: String, store: String) async throws -> [String] {
        let query = "SELECT job_key FROM jobs ORDER BY job_key"
        let text =
            backend == "postgres"
            ? try await LocalPostgres.shared.value.query(query, database: try #require(URL(string: store)?.lastPathComponent))
            : try await Tool.sqlite(store, query).text
        return text.split(separator: "\n").map(String.init)
    }

    /// A statement PostgreSQL refuses (here inside a transaction) is said in PostgreSQL's words,
    /// not as PostgresNIO's "generic description" nor as a dump of the transaction and its SQL.
    @Test func aPostgreSQLErrorIsSaidInWords() async throws {
        let store = try await LocalPostgres.shared.value.database("pgwords")
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, secdb], environment: Fixtures.isolatedEnvironment)
        try await Self.sql("ALTER TABLE image_packages RENAME TO image_packages_gone", backend: "postgres", store: store)
        let failed = try await Tool.run(
            [Fixtures.fathomExecutable, "db", "prune", "--store", store, "--older-than", "90d"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(failed.status == 1)
        #expect(failed.errorText.contains(#"PostgreSQL: relation "image_packages" does not exist (SQLSTATE 42P01)"#), "\(failed.errorText)")
        for leak in ["PSQLError", "PostgresTransactionError", "SELECT"] { #expect(!failed.errorText.contains(leak), "\(leak): \(failed.errorText)") }
    }

    @Test(arguments: ["sqlite", "postgres"]) func dbPruneAndServeDeleteWhatIsOlderThanTheRetention(_ backend: String) async throws {
        let store = backend == "postgres" ? try await LocalPostgres.shared.value.database("retention") : try Fixtures.temporaryDirectory("retention") + "/fathom.db"
        let secdb = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/v3.7/main.yaml").path
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, secdb], environment: Fixtures.isolatedEnvironment)
        try await Self.seed(backend, store: store, suffix: "1")

        // Durations it cannot use are refused before the store is touched.
        // (One too long to hold crashed the process; "or off" is not offered where off is refused.)
        for (value, says) in [
            ("off", "not 0 or off"), ("3x", "takes a duration such as 90d or 2w;"), ("90m", "at least a day"), ("infd", "at most 100 years"),
            ("1e15d", "at most 100 years"),
        ] {
            let refused = try await Tool.run(
                [Fixtures.fathomExecutable, "db", "prune", "--store", store, "--older-than", value], environment: Fixtures.isolatedEnvironment, check: false)
            #expect(refused.status == 64 && refused.errorText.contains(says) && !refused.errorText.contains(", or off"), "\(value): \(refused.errorText)")
        }
        // A mistyped option is named as such (ArgumentParser would first say the option it replaced is missing).
        let mistyped = try await Tool.run(
            [Fixtures.fathomExecutable, "db", "prune", "--store", store, "--older-tan", "90d"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(mistyped.status == 64 && mistyped.errorText.contains("Unknown option '--older-tan'"), "\(mistyped.errorText)")
        let missing = try await Tool.run([Fixtures.fathomExecutable, "db", "prune", "--store", store], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(
            missing.status == 64 && missing.errorText.contains("Missing expected argument '--older-than <older-than>'")
                && missing.errorText.contains("See 'fathom db prune --help'"), "\(missing.errorText)")
        #expect(try await Self.jobKeys(backend, store: store) == ["new-1", "old-1"])
        if backend == "postgres" {
            // A database with no fathom store in it (a mistyped name) is said, not made a store.
            let empty = try await LocalPostgres.shared.value.database("nostore")
            for command in [["db", "prune", "--older-than", "90d"], ["db", "stats"], ["db", "status"]] {
                let refused = try await Tool.run(
                    [Fixtures.fathomExecutable] + command + ["--store", empty], environment: Fixtures.isolatedEnvironment, check: false)
                #expect(refused.status == 1 && refused.errorText.contains("no fathom store in this database"), "\(command): \(refused.errorText)")
            }
            let tables = try await LocalPostgres.shared.value.query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database: try #require(URL(string: empty)?.lastPathComponent))
            #expect(tables == "0")
        }
        // A mistyped PostgreSQL URL is refused, its password not printed.
        let typoURL = try await Tool.run(
            [Fixtures.fathomExecutable, "db", "prune", "--store", "postgres:fathom:S3cretPw@127.0.0.1/x", "--older-than", "90d"],
            environment: Fixtures.isolatedEnvironment, check: false)
        #expect(typoURL.status != 0 && typoURL.errorText.contains("not a PostgreSQL URL") && !typoURL.errorText.contains("S3cretPw"), "\(typoURL.errorText)")
        if backend == "sqlite" {
            // A mistyped path is no store, not a new empty one.
            let typo = store.replacingOccurrences(of: "fathom.db", with: "fathon.db")
            let missing = try await Tool.run(
                [Fixtures.fathomExecutable, "db", "prune", "--store", typo, "--older-than", "90d"], environment: Fixtures.isolatedEnvironment, check: false)
            #expect(missing.status != 0 && missing.errorText.contains("no store here") && missing.errorText.contains(typo), "\(missing.errorText)")
            #expect(!FileManager.default.fileExists(atPath: typo))
            // So are the commands that only read it (db stats printed empty tables, and made the file).
            for command in [["db", "stats"], ["db", "status"]] {
                let read = try await Tool.run(
                    [Fixtures.fathomExecutable] + command + ["--store", typo], environment: Fixtures.isolatedEnvironment, check: false)
                #expect(read.status != 0 && read.errorText.contains("no store here") && read.errorText.contains(typo), "\(command): \(read.errorText)")
                #expect(!FileManager.default.fileExists(atPath: typo), "\(command)")
            }
        }

        let pruned = try await Tool.run(
            [Fixtures.fathomExecutable, "db", "prune", "--store", store, "--older-than", "90d"], environment: Fixtures.isolatedEnvironment)
        #expect(pruned.text.contains("Deleted 1 jobs, 0 notifications, 1 registry events, 0 scans, 0 images, 0 inventories, 0 inventory matches, 0 package lists, 0 layer lineage rows."), "\(pruned.text)")
        #expect(try await Self.jobKeys(backend, store: store) == ["new-1"])

        // serve refuses a retention too short to be meant, before it starts.
        let short = try await Tool.run(
            [Fixtures.fathomExecutable, "serve", "--store", store, "--retention", "10m"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(short.status != 0 && short.errorText.contains("--retention is at least a day"), "\(short.errorText)")

        // serve prunes at its start.
        try await Self.seed(backend, store: store, suffix: "2")
        let service = try await ServiceTests.startService(workers: 0, store: store, arguments: ["--retention", "30d"])
        defer { service.server.stop() }
        try await ServiceTests.eventually("serve pruned the old job at its start", seconds: 30) {
            try await Self.jobKeys(backend, store: store) == ["new-1", "new-2"]
        }
    }
}
