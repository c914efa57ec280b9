#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A real CNCF distribution registry (`docker-registry` from Debian) on 127.0.0.1, started
/// per test suite with its own storage, optionally behind htpasswd Basic auth or token auth.
/// Its access log is kept so tests can count the requests it really served.
public final class LocalRegistry: Sendable {
    public enum Auth: Sendable {
        case none
        case htpasswd(username: String, password: String)
        case token(realm: String, service: String, issuer: String, certificatePath: String)
    }

    public let port: Int
    public let directory: String
    public let logPath: String
    private let server: BackgroundServer

    /// `127.0.0.1:PORT`.
    public var host: String { "127.0.0.1:\(port)" }

    /// `tls`: the server certificate and key to serve HTTPS with. `notify`: an endpoint the
    /// registry sends its notification envelopes to, with a bearer token.
    public init(
        auth: Auth = .none, tls: (certificate: String, key: String)? = nil, notify: (url: String, token: String)? = nil
    ) async throws {
        guard Tool.has("docker-registry") else {
            throw RegistryUnavailable(reason: "docker-registry is not installed (apt-get install docker-registry)")
        }
        directory = try Fixtures.temporaryDirectory("registry")
        port = try freePort()
        logPath = directory + "/registry.log"
        var authSection = ""
        switch auth {
        case .none:
            break
        case .htpasswd(let username, let password):
            let line = try await Tool.run(["htpasswd", "-Bbn", username, password]).text
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try (line + "\n").write(toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            authSection = """
                auth:
                  htpasswd:
                    realm: fathom-test
                    path: \(directory)/htpasswd
                """
        case .token(let realm, let service, let issuer, let certificatePath):
            authSection = """
                auth:
                  token:
                    realm: \(realm)
                    service: \(service)
                    issuer: \(issuer)
                    rootcertbundle: \(certificatePath)
                """
        }
        let config = """
            version: 0.1
            log:
              level: info
              formatter: text
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            \(tls.map { "  tls:\n    certificate: \($0.certificate)\n    key: \($0.key)" } ?? "")
            \(authSection)
            \(notify.map { "notifications:\n  endpoints:\n    - name: fathom\n      url: \($0.url)\n      headers:\n        Authorization: [Bearer \($0.token)]\n      timeout: 3s\n      threshold: 3\n      backoff: 1s" } ?? "")
            """
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        server = try await BackgroundServer("docker-registry serve \"$1\"", argument: directory + "/config.yml", port: port, log: logPath)
    }

    public func stop() { server.stop() }

    /// The registry's log lines so far.
    public func logLines() -> [String] {
        (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// How many `GET` requests for blobs (not manifests) the registry has answered.
    public func blobGETCount(digest: String? = nil) -> Int {
        logLines().filter { line in
            // The access log line: "GET /v2/<name>/blobs/<digest> HTTP/1.1" <status> …
            line.contains("\"GET /v2/") && line.contains("/blobs/sha256:")
                && (digest.map { line.contains($0) } ?? true)
        }.count
    }

    /// Pushes an image with `skopeo copy` (`oci:DIR:tag`, `docker-archive:FILE` …) to `repository:tag`.
    public func push(
        _ source: String, to repository: String, tag: String, credentials: (String, String)? = nil,
        compression: String? = nil, all: Bool = false
    ) async throws {
        var arguments = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if let credentials { arguments += ["--dest-creds", "\(credentials.0):\(credentials.1)"] }
        if let compression { arguments += ["--dest-compress-format", compression, "--dest-compress"] }
        if all { arguments.append("--all") }
        arguments += [source, "docker://\(host)/\(repository):\(tag)"]
        try await Tool.run(arguments)
    }
}

public struct RegistryUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// A port nothing listens on right now (the kernel picks it).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw RegistryUnavailable(reason: "cannot bind a local port") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
public func waitForPort(_ port: Int, timeout: Double) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        close(fd)
        if connected == 0 { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw RegistryUnavailable(reason: "nothing listens on 127.0.0.1:\(port) after \(timeout) s")
}
