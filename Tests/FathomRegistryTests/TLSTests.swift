import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
@testable import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// A registry serving HTTPS with a certificate from a private CA: refused without `--ca-file`,
/// trusted with it.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TLSTests {
    static let pkiFixture = SharedFixture {
        let directory = try Fixtures.temporaryDirectory("pki")
        func openssl(_ arguments: [String]) async throws { try await Tool.run(["openssl"] + arguments) }
        try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem", "-days", "2", "-subj", "/CN=fathom-test-ca"])
        try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/server.key", "-out", directory + "/server.csr", "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
        try await openssl([
            "x509", "-req", "-in", directory + "/server.csr", "-CA", directory + "/ca.pem", "-CAkey", directory + "/ca.key",
            "-CAcreateserial", "-out", directory + "/server.pem", "-days", "2", "-extfile", directory + "/san.ext",
        ])
        return (directory: directory, ca: directory + "/ca.pem", certificate: directory + "/server.pem", key: directory + "/server.key")
    }

    let pki: (directory: String, ca: String, certificate: String, key: String)

    init() async throws { pki = try await Self.pkiFixture.value }

    @Test func privateCAIsTrustedOnlyWhenGiven() async throws {
        let registry = try await LocalRegistry(tls: (pki.certificate, pki.key))
        defer { registry.stop() }
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "secure/busybox", tag: "1")
        let reference = try ImageReference(parsing: "\(registry.host)/secure/busybox:1")

        let untrusted = try RegistryClient(configuration: .init(credentials: .anonymous, maxAttempts: 2))
        let error = await #expect(throws: FathomError.self) {
            try await withClient(untrusted) { client in try await RegistryImageSource(reference: reference, client: client).resolve(platform: .linuxAMD64) }
        }
        #expect(error?.code == .transport)
        #expect(error?.message.contains("https://\(registry.host)/") == true)

        let trusted = try RegistryClient(configuration: .init(credentials: .anonymous, caFile: pki.ca))
        let result = try await withClient(trusted) { client in try await ImageScanner().scan(RegistryImageSource(reference: reference, client: client)) }
        #expect(result.layers.count == 1)
        // Over TLS: the registry's access log shows the pull, which only HTTPS could have reached.
        #expect(registry.blobGETCount() >= 1)
    }

    /// The CLI as a user meets it: verification is on, the message says what to do, and
    /// `--insecure-registry` lifts it for the hosts it names and no other.
    @Test func theCLIVerifiesTLSUnlessTrustedOrNamedInsecure() async throws {
        let registry = try await LocalRegistry(tls: (pki.certificate, pki.key))
        defer { registry.stop() }
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "secure/busybox", tag: "1")
        let image = "\(registry.host)/secure/busybox:1"
        func fathom(_ arguments: [String]) async throws -> ProcessOutput {
            try await Tool.run(
                [Fixtures.fathomExecutable, "scan", image, "-f", "json"] + arguments,
                environment: Fixtures.isolatedEnvironment, check: false)
        }
        let refused = try await fathom([])
        #expect(refused.status == 1)
        #expect(refused.errorText.contains("the server's TLS certificate is not trusted (give its CA with --ca-file)"), "\(refused.errorText)")
        let otherHost = try await fathom(["--insecure-registry", "127.0.0.1:1"])
        #expect(otherHost.status == 1, "an insecure flag for another host changes nothing: \(otherHost.errorText)")
        #expect(otherHost.errorText.contains("not trusted"))
        let trusted = try await fathom(["--ca-file", pki.ca])
        #expect(trusted.status == 0, "\(trusted.errorText)")
        let insecure = try await fathom(["--insecure-registry", registry.host])
        #expect(insecure.status == 0, "\(insecure.errorText)")
        #expect(insecure.errorText.contains("\(registry.host): TLS certificates are not checked (--insecure-registry)"))
    }

    @Test func unreadableCAFileIsAClearError() {
        let error = #expect(throws: FathomError.self) {
            try RegistryClient(configuration: .init(caFile: "/nonexistent/ca.pem"))
        }
        #expect(error?.path == "/nonexistent/ca.pem")
    }

    @Test func loopbackDetection() {
        #expect(RegistryClient.isLoopback("127.0.0.1:5000"))
        #expect(RegistryClient.isLoopback("localhost"))
        #expect(RegistryClient.isLoopback("[::1]:5000"))
        #expect(!RegistryClient.isLoopback("registry.example:5000"))
        #expect(!RegistryClient.isLoopback("10.0.0.1"))
    }
}
