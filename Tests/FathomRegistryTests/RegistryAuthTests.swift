import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
@testable import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// Basic (htpasswd) and Bearer-token authentication against the real registry, credentials
/// from flags, docker config.json and credential helpers.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RegistryAuthTests {
    static let user = "scanner"
    static let password = "s3cret-pass"

    static let basicFixture = SharedFixture {
        let registry = try await LocalRegistry(auth: .htpasswd(username: user, password: password))
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/busybox", tag: "1", credentials: (user, password))
        return registry
    }

    static let tokenFixture = SharedFixture {
        let server = try await TokenServer(username: user, password: password)
        let registry = try await LocalRegistry(
            auth: .token(realm: server.realm, service: server.service, issuer: server.issuer, certificatePath: server.certificatePath))
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "team/busybox", tag: "1", credentials: (user, password))
        return (registry: registry, server: server)
    }

    let basic: LocalRegistry
    let token: (registry: LocalRegistry, server: TokenServer)

    init() async throws {
        basic = try await Self.basicFixture.value
        token = try await Self.tokenFixture.value
    }

    func scan(_ registry: LocalRegistry, client: RegistryClient) async throws -> ImageScanResult {
        try await withClient(client) { client in
            try await ImageScanner().scan(RegistryImageSource(reference: try registry.reference("team/busybox", "1"), client: client))
        }
    }

    @Test func basicAuthWithTheRightCredentials() async throws {
        let result = try await scan(basic, client: try basic.client(username: Self.user, password: Self.password))
        #expect(result.layers.count == 1)
    }

    @Test func basicAuthWithWrongOrNoCredentialsIsUnauthorized() async throws {
        for client in [try basic.client(username: Self.user, password: "wrong"), try basic.client()] {
            let error = await #expect(throws: FathomError.self) { try await scan(basic, client: client) }
            #expect(error?.code == .unauthorized)
            #expect(error?.image == "\(basic.host)/team/busybox:1")
        }
    }

    @Test func bearerTokenFlowOverRealHTTP() async throws {
        let (registry, server) = token
        let before = server.requests.count
        let client = try registry.client(username: Self.user, password: Self.password)
        try await withClient(client) { client in
            let source = RegistryImageSource(reference: try registry.reference("team/busybox", "1"), client: client)
            _ = try await ImageScanner().scan(source)
            _ = try await ImageScanner().scan(source)
        }
        let issued = server.requests.dropFirst(before)
        // One token for the repository's pull scope served both scans (manifest, config, layer, twice).
        #expect(issued.count == 1)
        #expect(issued.first == "\(Self.user) repository:team/busybox:pull")
    }

    /// A token is used until its `expires_in` (less a margin) has passed on the client's clock,
    /// then a new one is fetched: checked with a test clock, in no real time.
    @Test func expiredTokenIsFetchedAgain() async throws {
        let (registry, server) = token
        let clock = ManualClock()
        let client = try RegistryClient(
            configuration: RegistryClientConfiguration(
                credentials: CredentialStore(
                    explicit: [registry.host: RegistryCredential(username: Self.user, password: Self.password)], dockerConfigPath: nil),
                clock: clock))
        let before = server.requests.count
        try await withClient(client) { client in
            let reference = try registry.reference("team/busybox", "1")
            _ = try await client.manifest(reference)
            clock.advance(by: .seconds(280))
            _ = try await client.manifest(reference)
            #expect(server.requests.count - before == 1, "the token server issues 300 s tokens: still valid")
            clock.advance(by: .seconds(15))
            _ = try await client.manifest(reference)
            #expect(server.requests.count - before == 2, "renewed 10 s before expiry")
        }
    }

    @Test func bearerTokenWithWrongCredentialsIsUnauthorized() async throws {
        let (registry, _) = token
        let error = await #expect(throws: FathomError.self) {
            try await scan(registry, client: try registry.client(username: Self.user, password: "nope"))
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.description.contains("token server") == true)
        // Anonymous: the token server grants no pull, so the registry refuses the token.
        let anonymous = await #expect(throws: FathomError.self) { try await scan(registry, client: try registry.client()) }
        #expect(anonymous?.code == .unauthorized)
    }

    @Test func dockerConfigAuthsAreUsedForTheirRegistryOnly() async throws {
        let directory = try Fixtures.temporaryDirectory("docker-config")
        let auth = Data("\(Self.user):\(Self.password)".utf8).base64EncodedString()
        let config = """
            {"auths": {"http://\(basic.host)/": {"auth": "\(auth)"}, "other.example:5000": {"auth": "\(auth)"}}}
            """
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(dockerConfigPath: directory + "/config.json")
        #expect(try await store.credential(for: basic.host)?.password == Self.password)
        #expect(try await store.credential(for: "elsewhere.example") == nil)
        let client = try RegistryClient(configuration: .init(credentials: store))
        let result = try await scan(basic, client: client)
        #expect(result.layers.count == 1)

        // A config with credentials only for another host sends nothing to this one.
        try #"{"auths": {"other.example:5000": {"auth": "\#(auth)"}}}"#.write(
            toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let other = try RegistryClient(configuration: .init(credentials: CredentialStore(dockerConfigPath: directory + "/config.json")))
        let error = await #expect(throws: FathomError.self) { try await scan(basic, client: other) }
        #expect(error?.code == .unauthorized)
    }

    @Test func credentialHelperIsRunAsDockerRunsIt() async throws {
        let directory = try Fixtures.temporaryDirectory("cred-helper")
        // A real helper program speaking the docker-credential-helpers protocol.
        let helper = """
            #!/bin/sh
            [ "$1" = get ] || exit 1
            read server
            case "$server" in
              *\(basic.host)*) printf '{"ServerURL":"%s","Username":"\(Self.user)","Secret":"\(Self.password)"}' "$server" ;;
              *) echo "credentials not found in native keychain"; exit 1 ;;
            esac
            """
        try helper.write(toFile: directory + "/docker-credential-fathomtest", atomically: true, encoding: .utf8)
        try await Tool.run(["chmod", "+x", directory + "/docker-credential-fathomtest"])
        try #"{"credHelpers": {"\#(basic.host)": "fathomtest"}, "credsStore": "fathomtest"}"#.write(
            toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        setenv("PATH", directory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), 1)
        let store = CredentialStore(dockerConfigPath: directory + "/config.json")
        #expect(try await store.credential(for: basic.host)?.username == Self.user)
        #expect(try await store.credential(for: "unknown.example") == nil)  // "not found" means anonymous
        let result = try await scan(basic, client: try RegistryClient(configuration: .init(credentials: store)))
        #expect(result.layers.count == 1)
    }

    /// A credential helper runs once per registry however many requests need it: 50 images
    /// scanned at once through one client, one run of the helper (it counts its runs).
    @Test func credentialHelperRunsOncePerRegistry() async throws {
        let directory = try Fixtures.temporaryDirectory("cred-helper-count")
        let runs = directory + "/runs"
        let helper = """
            #!/bin/sh
            [ "$1" = get ] || exit 1
            read server
            echo run >> \(runs)
            printf '{"ServerURL":"%s","Username":"\(Self.user)","Secret":"\(Self.password)"}' "$server"
            """
        try helper.write(toFile: directory + "/docker-credential-fathomcount", atomically: true, encoding: .utf8)
        try await Tool.run(["chmod", "+x", directory + "/docker-credential-fathomcount"])
        try #"{"credHelpers": {"\#(basic.host)": "fathomcount"}}"#.write(
            toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        setenv("PATH", directory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), 1)
        let client = try RegistryClient(configuration: .init(credentials: CredentialStore(dockerConfigPath: directory + "/config.json")))
        let reference = try basic.reference("team/busybox", "1")
        let layers = try await withClient(client) { client in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await ImageScanner().scan(RegistryImageSource(reference: reference, client: client)).layers.count }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(layers == 50)
        let lines = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }

    @Test func identityTokenAndConfigKeysNormalise() async throws {
        let directory = try Fixtures.temporaryDirectory("identity")
        try #"{"auths": {"https://index.docker.io/v1/": {"identitytoken": "refresh-me"}}}"#.write(
            toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(dockerConfigPath: directory + "/config.json")
        #expect(try await store.credential(for: "index.docker.io")?.identityToken == "refresh-me")
        #expect(try await store.credential(for: "docker.io")?.identityToken == "refresh-me")
        #expect(CredentialStore.normalizeHost("https://Registry.Example:5000/v2/") == "registry.example:5000")
    }

    @Test func challengeParsing() {
        let challenges = AuthChallenge.parse(
            #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", Basic realm="x\"y""#)
        #expect(challenges.count == 2)
        #expect(challenges[0].scheme == "bearer")
        #expect(challenges[0].realm == "https://auth.example/token")
        #expect(challenges[0].service == "registry.example")
        #expect(challenges[0].scope == "repository:a/b:pull,push")
        #expect(challenges[1].scheme == "basic")
        #expect(challenges[1].realm == "x\"y")
        #expect(AuthChallenge.parse(#"Basic realm="Registry Realm""#).first?.realm == "Registry Realm")
        #expect(AuthChallenge.parse("").isEmpty)
    }

    @Test func retryAfterParsing() {
        #expect(RegistryClient.parseRetryAfter("3") == .seconds(3))
        #expect(RegistryClient.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == .seconds(0))
        #expect(RegistryClient.parseRetryAfter("soon") == nil)
    }
}

final class ResultBox<T>: @unchecked Sendable {
    // @unchecked: written once before a semaphore signal, read after the wait.
    var value: T?
}

