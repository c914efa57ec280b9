import FathomCore
import FathomSource
import FathomOCI
import FathomRegistry
import FathomTestSupport
import Foundation

/// Images built once per test process from the repository's fixtures.
enum TestImages {
    static let busyboxMusl = Fixtures.image("busybox-oci/busybox-latest-musl-amd64")

    /// An OCI layout holding: `gzip` (alpine 3.7.3, gzip), `zstd` (alpine 3.20.3, zstd), and
    /// `multi` (an index of both: linux/amd64 → 3.7.3, linux/arm64/v8 → 3.20.3).
    static func layout() async throws -> TestLayout { try await layoutFixture.value }

    /// The registry most suites share (see `RegistryPullTests.shared`) and the layout its
    /// `alpine` images came from.
    static func sharedRegistry() async throws -> (LocalRegistry, TestLayout) {
        (try await RegistryPullTests.shared.value, try await layout())
    }

    private static let layoutFixture = SharedFixture {
        let directory = try Fixtures.temporaryDirectory("layout")
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        func plainTar(_ version: String) async throws -> String {
            let tar = directory + "/alpine-\(version).tar"
            let data = try await Tool.run([
                "gzip", "-dc", Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.tar.gz"),
            ]).stdout
            try data.write(to: URL(fileURLWithPath: tar))
            return tar
        }
        let old = try await builder.addImage(layers: [(try await plainTar("3.7.3"), .gzip)])
        let new = try await builder.addImage(
            layers: [(try await plainTar("3.20.3"), .zstd)], architecture: "arm64", variant: "v8")
        try builder.writeIndex([("gzip", [old]), ("zstd", [new]), ("multi", [old, new])])
        return (directory + "/oci", old, new)
    }
}

/// An OCI layout and the two images in it.
typealias TestLayout = (directory: String, gzip: OCILayoutBuilder.Image, zstd: OCILayoutBuilder.Image)

extension LocalRegistry {
    /// A client for this registry with the given credentials.
    func client(username: String? = nil, password: String? = nil) throws -> RegistryClient {
        var explicit: [String: RegistryCredential] = [:]
        if let username { explicit[host] = RegistryCredential(username: username, password: password) }
        return try RegistryClient(
            configuration: RegistryClientConfiguration(
                credentials: CredentialStore(explicit: explicit, dockerConfigPath: nil), maxAttempts: 2,
                baseBackoff: .milliseconds(20)))
    }

    func reference(_ repository: String, _ tag: String) throws -> ImageReference {
        try ImageReference(parsing: "\(host)/\(repository):\(tag)")
    }
}

/// Runs `body` with a client and shuts the client down after.
func withClient<T>(_ client: RegistryClient, _ body: (RegistryClient) async throws -> T) async throws -> T {
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}
