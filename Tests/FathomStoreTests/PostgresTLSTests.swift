import FathomCore
import FathomStore
import FathomStores
import FathomTestSupport
import Foundation
import Testing

/// The PostgreSQL URL's TLS settings as libpq takes them, against a real server with TLS on and
/// every connection without it refused: `prefer` and `require` encrypt without checking the
/// certificate (a Debian server's self-signed one), `verify-ca` and `verify-full` check it
/// against `sslrootcert`, the host name too for `verify-full`; a parameter fathom does not read
/// is refused by name rather than left silently out of force.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PostgresTLSTests {
    @Test func tlsIsTakenAsLibpqTakesIt() async throws {
        let postgres = try await LocalPostgres()
        defer { postgres.stop() }
        let data = postgres.directory + "/data"
        let certificate = try Fixtures.temporaryDirectory("tls") + "/server.crt"
        try await Tool.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
            "subjectAltName=DNS:localhost", "-keyout", data + "/server.key", "-out", data + "/server.crt",
        ])
        try FileManager.default.copyItem(atPath: data + "/server.crt", toPath: certificate)
        try await Tool.run(["chmod", "600", data + "/server.key"])
        if getuid() == 0 { try await Tool.run(["chown", "postgres:postgres", data + "/server.key", data + "/server.crt"]) }
        try await postgres.sql("ALTER SYSTEM SET ssl = on")
        try await postgres.sql("SELECT pg_reload_conf()")
        let plain = try await postgres.database("tls")
        try await postgres.allow(first: ["hostnossl all all 127.0.0.1/32 reject"])
        let base = String(plain.prefix { $0 != "?" })

        func opens(_ url: String) async throws {
            let store = try await openStore(url)
            try await store.close()
        }
        func refused(_ url: String) async -> String {
            do {
                try await opens(url)
                return ""
            } catch {
                return "\(error)"
            }
        }
        // Encrypted, the certificate unchecked: the default, and require.
        try await opens(base)
        try await opens(base + "?sslmode=require")
        try await opens(base + "?sslmode=prefer&connect_timeout=5")
        // Checked against the given authority: the chain (verify-ca), the host name too (verify-full).
        try await opens(base + "?sslmode=verify-ca&sslrootcert=\(certificate)")
        try await opens(base.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "?sslmode=verify-full&sslrootcert=\(certificate)")
        let untrusted = await refused(base + "?sslmode=verify-full")
        #expect(untrusted.contains("not signed by an authority fathom trusts") && untrusted.contains("sslrootcert"), "\(untrusted)")
        let otherName = await refused(base + "?sslmode=verify-full&sslrootcert=\(certificate)")
        #expect(otherName.contains("does not name \"127.0.0.1\""), "\(otherName)")
        // Without TLS the server refuses; the cause is PostgreSQL's.
        let withoutTLS = await refused(plain)
        #expect(withoutTLS.contains("requires TLS") || withoutTLS.contains("rejects"), "\(withoutTLS)")
        // What fathom does not read is named, not ignored.
        let unknown = await refused(base + "?sslmode=require&application_name=fathom")
        #expect(unknown.contains("application_name is not one fathom reads") && !unknown.contains("file postgres"), "\(unknown)")
        let timeout = await refused(base + "?connect_timeout=soon")
        #expect(timeout.contains("connect_timeout is a number of seconds"), "\(timeout)")
        let missing = await refused(base + "?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt")
        #expect(missing.contains("sslrootcert names /nonexistent/root.crt"), "\(missing)")
    }
}
