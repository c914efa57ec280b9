// Docker's config file: https://docs.docker.com/reference/cli/docker/#docker-cli-configuration-file-configjson-properties
// Credential helpers: https://github.com/docker/docker-credential-helpers (protocol: `get`, server URL on stdin)
import FathomCore
import Foundation
import Subprocess

/// Credentials for one registry.
public struct RegistryCredential: Sendable, Hashable {
    public var username: String?
    public var password: String?
    /// An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token realm.
    public var identityToken: String?
    /// A registry token handed over as it is (the `Bearer` authorization of Harbor's scan
    /// requests): sent when the registry asks for Bearer authentication, no realm asked.
    public var registryToken: String?

    public init(username: String? = nil, password: String? = nil, identityToken: String? = nil, registryToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
        self.registryToken = registryToken
    }
}

/// Where credentials come from, in order: explicit ones (flags, environment) for their
/// registry, then the docker `config.json` (`auths`, `credHelpers`, `credsStore`).
/// Each credential is only ever offered to the registry it belongs to.
public struct CredentialStore: Sendable {
    var explicit: [String: RegistryCredential]
    var dockerConfig: DockerConfigFile?

    public init(explicit: [String: RegistryCredential] = [:], dockerConfigPath: String? = CredentialStore.defaultDockerConfigPath()) {
        self.explicit = Dictionary(explicit.map { (Self.normalizeHost($0.key), $0.value) }, uniquingKeysWith: { $1 })
        self.dockerConfig = dockerConfigPath.flatMap { try? DockerConfigFile(path: $0) }
    }

    /// No credentials at all.
    public static let anonymous = CredentialStore(explicit: [:], dockerConfigPath: nil)

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    public static func defaultDockerConfigPath() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty { return directory + "/config.json" }
        if let home = environment["HOME"] { return home + "/.docker/config.json" }
        return nil
    }

    /// The credential for `registry` (a host[:port]), or nil to go anonymous.
    /// A credential helper runs here, every time: `RegistryClient` asks once per registry.
    public func credential(for registry: String) async throws -> RegistryCredential? {
        let host = Self.normalizeHost(registry)
        if let credential = explicit[host] { return credential }
        return try await dockerConfig?.credential(for: host)
    }

    /// Reduces a config key or host to `host[:port]`: drops the scheme and path, and maps
    /// Docker Hub's names (`https://index.docker.io/v1/`, `docker.io`) to `index.docker.io`.
    public static func normalizeHost(_ key: String) -> String {
        var host = Substring(key.lowercased())
        if let scheme = host.range(of: "://") { host = host[scheme.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        switch host {
        case "docker.io", "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com": return "index.docker.io"
        default: return String(host)
        }
    }
}

/// The parts of `config.json` that hold credentials.
struct DockerConfigFile: Sendable {
    struct Entry: Decodable, Sendable {
        var auth: String?
        var username: String?
        var password: String?
        var identitytoken: String?
    }
    struct File: Decodable {
        var auths: [String: Entry]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    var auths: [String: Entry]
    var credHelpers: [String: String]
    var credsStore: String?
    /// The original keys, which helpers expect back as the server URL.
    var originalKeys: [String: String]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let file = try JSONDecoder().decode(File.self, from: data)
        var auths: [String: Entry] = [:]
        var originalKeys: [String: String] = [:]
        for (key, entry) in file.auths ?? [:] {
            auths[CredentialStore.normalizeHost(key)] = entry
            originalKeys[CredentialStore.normalizeHost(key)] = key
        }
        self.auths = auths
        self.originalKeys = originalKeys
        self.credHelpers = Dictionary(
            (file.credHelpers ?? [:]).map { (CredentialStore.normalizeHost($0.key), $0.value) }, uniquingKeysWith: { $1 })
        self.credsStore = file.credsStore
    }

    func credential(for host: String) async throws -> RegistryCredential? {
        if let helper = credHelpers[host] { return try await Self.runHelper(helper, serverURL: serverURL(for: host)) }
        if let entry = auths[host] {
            if let token = entry.identitytoken, !token.isEmpty {
                return RegistryCredential(username: entry.username, identityToken: token)
            }
            if let auth = entry.auth, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                    let colon = decoded.firstIndex(of: ":")
                else {
                    throw FathomError(.invalidInput, "the docker config's auth entry for \(host) is not base64 of user:password")
                }
                return RegistryCredential(
                    username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
            }
            if let username = entry.username, let password = entry.password {
                return RegistryCredential(username: username, password: password)
            }
        }
        if let store = credsStore, !store.isEmpty { return try await Self.runHelper(store, serverURL: serverURL(for: host)) }
        return nil
    }

    func serverURL(for host: String) -> String {
        if let key = originalKeys[host] { return key }
        return host == "index.docker.io" ? "https://index.docker.io/v1/" : host
    }

    /// Runs `docker-credential-NAME get` with the server URL on stdin, as Docker does. Output
    /// and errors are read together (a chatty helper cannot block on a full pipe), and the
    /// wait does not hold one of Swift concurrency's threads.
    static func runHelper(_ name: String, serverURL: String) async throws -> RegistryCredential? {
        let status: TerminationStatus
        let output: [UInt8]
        let errors: [UInt8]
        do {
            let result = try await Subprocess.run(
                .name("docker-credential-\(name)"), arguments: ["get"], input: .string(serverURL),
                output: .bytes(limit: 1 << 20), error: .bytes(limit: 1 << 20))
            (status, output, errors) = (result.terminationStatus, result.standardOutput, result.standardError)
        } catch {
            throw FathomError(.unauthorized, "cannot run credential helper docker-credential-\(name)", cause: error)
        }
        let data = Data(output)
        guard status.isSuccess else {
            let text = String(decoding: output + errors, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            // Helpers say "credentials not found in native keychain" when they hold nothing: go anonymous.
            if text.lowercased().contains("not found") { return nil }
            throw FathomError(
                .unauthorized, "credential helper docker-credential-\(name) failed for \(serverURL): \(text)")
        }
        struct Reply: Decodable {
            var Username: String?
            var Secret: String?
        }
        let reply: Reply
        do {
            reply = try JSONDecoder().decode(Reply.self, from: data)
        } catch {
            throw FathomError(.unauthorized, "credential helper docker-credential-\(name) printed no credential JSON", cause: error)
        }
        // Docker's convention: a username of "<token>" means the secret is an identity token.
        if reply.Username == "<token>" { return RegistryCredential(identityToken: reply.Secret) }
        return RegistryCredential(username: reply.Username, password: reply.Secret)
    }
}

// Credentials print as what they are, never as their values: a type that holds one may end up in
// a log line (swift-service-lifecycle logs each service with `String(describing:)`).
extension RegistryCredential: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "RegistryCredential(username: \(username ?? "none"), password: \(password == nil ? "none" : "<redacted>"), identityToken: \(identityToken == nil ? "none" : "<redacted>"), registryToken: \(registryToken == nil ? "none" : "<redacted>"))"
    }
    public var debugDescription: String { description }
}

extension CredentialStore: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "CredentialStore(\(explicit.count) explicit, docker config: \(dockerConfig == nil ? "none" : "read"))" }
    public var debugDescription: String { description }
}
