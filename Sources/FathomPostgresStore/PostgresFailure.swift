public import FathomCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// Why PostgreSQL could not be reached, in the words an operator acts on: the connection pool
/// retries a failed connection for ever and reports only a timeout, so one direct connection
/// is made first and its failure named as PostgreSQL (or the network) gave it.
enum PostgresFailure {
    /// Connects once with the pool's settings and closes again; throws the named cause.
    /// `parameters`: startup parameters to ask for; a server that refuses them as unsupported (a
    /// pooler such as PgBouncer, which passes only those it is told to) is asked again without
    /// them. Returns whether they were taken.
    @discardableResult
    static func probe(_ url: PostgresURL, timeout: Duration, logger: Logger, parameters: [(String, String)] = []) async throws -> Bool {
        let (host, port, user, database, sslmode) = (url.host, url.port, url.user, url.database, url.sslmode)
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch (url.tls(), url.requiresTLS) {
            case (nil, _): tls = .disable
            case (let configuration?, false): tls = .prefer(try NIOSSLContext(configuration: configuration))
            case (let configuration?, true): tls = .require(try NIOSSLContext(configuration: configuration))
            }
        } catch {
            throw FathomError(.invalidInput, "PostgreSQL at \(host):\(port): the TLS settings cannot be used (sslrootcert \(url.sslrootcert ?? "system")): \(error)")
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: url.password, database: database, tls: tls)
        configuration.options.connectTimeout = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        configuration.options.additionalStartupParameters = parameters
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch let error as PSQLError where !parameters.isEmpty && Self.refusesParameters(error) {
            logger.debug("the server refuses startup parameters; asking without them", metadata: ["error": "\(error.serverInfo?[.message] ?? "")"])
            try await probe(url, timeout: timeout, logger: logger)
            return false
        } catch {
            // A server out of connections is busy, not down (`limitExceeded`, which readiness
            // does not take for an unreachable store).
            let full = (error as? PSQLError)?.serverInfo?[.sqlState] == "53300"
            throw FathomError(
                full ? .limitExceeded : .io, describe(error, host: host, port: port, user: user, database: database ?? user, sslmode: sslmode, timeout: timeout))
        }
        try? await connection.close()
        return true
    }

    /// A refusal of the startup parameters themselves: PgBouncer's "unsupported startup
    /// parameter", or a PostgreSQL that does not know one (42704, "unrecognized configuration
    /// parameter": `plan_cache_mode` is PostgreSQL 12's).
    static func refusesParameters(_ error: PSQLError) -> Bool {
        (error.serverInfo?[.message] ?? "").hasPrefix("unsupported startup parameter") || error.serverInfo?[.sqlState] == "42704"
    }

    /// The cause of `error`, named: refused, unknown host, authentication, database, TLS.
    static func describe(_ error: any Error, host: String, port: Int, user: String, database: String, sslmode: String, timeout: Duration) -> String {
        let address = "PostgreSQL at \(host):\(port)"
        guard let error = error as? PSQLError else { return "\(address): \(error)" }
        if error.code == .server, let info = error.serverInfo {
            let message = info[.message] ?? "an error"
            switch info[.sqlState] {
            case "28P01": return "\(address): password authentication failed for user \"\(user)\""
            case "28000" where message.contains("no encryption"):
                return "\(address) requires TLS for user \"\(user)\" (\(message)): use sslmode=require"
            case "28000": return "\(address) refused user \"\(user)\": \(message)"
            case "3D000": return "\(address) has no database \"\(database)\" (create it, or name another in the URL)"
            case "57P03": return "\(address) is starting up or shutting down: \(message)"
            case "53300": return "\(address) has too many connections: \(message)"
            case let state?: return "\(address): \(message) (SQLSTATE \(state))"
            case nil: return "\(address): \(message)"
            }
        }
        if error.code == .authMechanismRequiresPassword {
            return "\(address) asks for a password for user \"\(user)\", and the URL gives none (postgres://\(user):PASSWORD@…)"
        }
        if error.code == .sslUnsupported {
            return "\(address) does not offer TLS, and sslmode=\(sslmode) requires it (use sslmode=prefer or disable, or enable ssl on the server)"
        }
        if let underlying = error.underlying, error.code == .connectionError || error.code == .failedToAddSSLHandler,
            let refused = certificate(underlying, host: host, sslmode: sslmode)
        {
            return "\(address): \(refused)"
        }
        if error.code == .connectionError, let underlying = error.underlying {
            return "\(address): \(network(underlying, host: host, timeout: timeout))"
        }
        return "\(address): \(error.code)\(error.underlying.map { ": \($0)" } ?? "")"
    }

    /// A server certificate TLS would not take, in words: not signed by a trusted authority, or
    /// not naming the host.
    static func certificate(_ error: any Error, host: String, sslmode: String) -> String? {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "its TLS certificate is not signed by an authority fathom trusts (sslmode=\(sslmode)): give the authority with sslrootcert=FILE"
        }
        if error as? NIOSSLExtraError == .failedToValidateHostname || text.contains("failedToValidateHostname") {
            return "its TLS certificate does not name \"\(host)\" (sslmode=verify-full checks the host name; verify-ca does not)"
        }
        return nil
    }

    /// A connect failure's cause: the refusal, the name that does not resolve, the timeout.
    static func network(_ error: any Error, host: String, timeout: Duration) -> String {
        if let failure = error as? NIOConnectionError {
            if let first = failure.connectionErrors.first { return network(first.error, host: host, timeout: timeout) }
            if failure.dnsAError != nil || failure.dnsAAAAError != nil { return "unknown host \"\(host)\" (the name does not resolve)" }
        }
        if let io = error as? IOError {
            let cause = String(cString: strerror(io.errnoCode)).lowercased()
            return io.errnoCode == ECONNREFUSED ? "\(cause) (is PostgreSQL running and listening on that address?)" : cause
        }
        if case ChannelError.connectTimeout = error { return "did not answer within \(timeout)" }
        if error is SocketAddressError { return "unknown host \"\(host)\" (the name does not resolve)" }
        return "\(error)"
    }
}

/// What PostgreSQL said, without the query or its values: its message, SQLSTATE, detail and
/// hint; a failure on the client's side by its code.
extension PSQLError: PlainlyDescribedError {
    var plainDescription: String {
        guard let info = serverInfo, let message = info[.message] else { return "PostgreSQL client: \(code)" }
        var text = "PostgreSQL: \(message)"
        if let state = info[.sqlState] { text += " (SQLSTATE \(state))" }
        if let detail = info[.detail] { text += "; \(detail)" }
        if let hint = info[.hint] { text += "; hint: \(hint)" }
        return text
    }
}
