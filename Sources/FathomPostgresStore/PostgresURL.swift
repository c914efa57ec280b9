import FathomCore
import Foundation
import NIOSSL

/// A PostgreSQL URL, `postgres://user[:password]@host[:port]/database[?parameters]`, with the
/// parameters libpq gives them that fathom reads: `sslmode`, `sslrootcert` and `connect_timeout`.
/// Any other parameter is refused by name: one left unread would be a setting silently not in force.
struct PostgresURL {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?
    /// disable, allow, prefer (the default), require, verify-ca or verify-full.
    var sslmode: String
    /// A PEM file of the certificate authorities to trust, or `system`.
    var sslrootcert: String?
    var connectTimeout: Duration?

    static let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    static let parameters = ["sslmode", "sslrootcert", "connect_timeout"]

    init(_ url: String) throws {
        let shown = PostgresStore.redacted(url)
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw FathomError(.invalidInput, "not a PostgreSQL URL: postgres://user:password@host:port/database", path: shown)
        }
        (self.host, port, user, password) = (host, components.port ?? 5432, components.user ?? "postgres", components.password)
        let path = String(components.path.dropFirst())
        database = path.isEmpty ? nil : path
        var values: [String: String] = [:]
        for item in components.queryItems ?? [] where !item.name.isEmpty {
            guard values[item.name] == nil else {
                throw FathomError(.invalidInput, "the URL gives \(item.name) twice", path: shown)
            }
            guard Self.parameters.contains(item.name) else {
                throw FathomError(
                    .invalidInput, "the URL's parameter \(item.name) is not one fathom reads (\(Self.parameters.joined(separator: ", ")))", path: shown)
            }
            values[item.name] = item.value ?? ""
        }
        sslmode = values["sslmode"] ?? "prefer"
        guard Self.modes.contains(sslmode) else {
            throw FathomError(.invalidInput, "sslmode is one of \(Self.modes.joined(separator: ", ")), not \(sslmode)", path: shown)
        }
        sslrootcert = values["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
        if let file = sslrootcert, file != "system", !FileManager.default.isReadableFile(atPath: file) {
            throw FathomError(.invalidInput, "sslrootcert names \(file), which cannot be read", path: shown)
        }
        if let seconds = values["connect_timeout"] {
            guard let value = Int(seconds), value > 0 else {
                throw FathomError(.invalidInput, "connect_timeout is a number of seconds above 0, not \(seconds)", path: shown)
            }
            connectTimeout = .seconds(value)
        }
    }

    /// TLS as libpq takes the mode: none for `disable`; for `allow`, `prefer` and `require`,
    /// encryption without checking the server's certificate unless `sslrootcert` is given (then
    /// as `verify-ca`); `verify-ca` checks the chain, `verify-full` the host name too. Trusted:
    /// the `sslrootcert` file, else the system's authorities.
    func tls() -> TLSConfiguration? {
        guard sslmode != "disable" else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslmode {
        case "verify-full": configuration.certificateVerification = .fullVerification
        case "verify-ca": configuration.certificateVerification = .noHostnameVerification
        default: configuration.certificateVerification = sslrootcert == nil ? .none : .noHostnameVerification
        }
        if let file = sslrootcert, file != "system" { configuration.trustRoots = .file(file) }
        return configuration
    }

    /// Whether the server must offer TLS (else the connection goes on without it).
    var requiresTLS: Bool { !["disable", "allow", "prefer"].contains(sslmode) }
}
