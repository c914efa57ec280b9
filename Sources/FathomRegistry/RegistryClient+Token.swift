// https://distribution.github.io/distribution/spec/auth/token/ (GET token)
// https://distribution.github.io/distribution/spec/auth/oauth/ (POST refresh_token)
import AsyncHTTPClient
import FathomCore
import Foundation
import NIOCore
import NIOHTTP1

/// What a client has learned about each registry's authentication: its challenge, its
/// scheme (https or http), the credential it resolved (a credential helper runs once per
/// registry, however many requests need it), and the bearer tokens it issued, keyed by
/// (realm, service, scope).
actor AuthState {
    struct TokenKey: Hashable {
        var realm: String
        var service: String?
        var scope: String?
    }

    private var challenges: [String: AuthChallenge] = [:]
    private var schemes: [String: String] = [:]
    private var tokens: [TokenKey: (token: String, expires: Duration)] = [:]
    private var credentials: [String: Task<RegistryCredential?, any Error>] = [:]
    private let clock: RegistryClock

    init(clock: RegistryClock) { self.clock = clock }

    /// The credential for `registry`, resolved once (concurrent callers share that one run).
    func credential(for registry: String, from store: CredentialStore) async throws -> RegistryCredential? {
        if let known = credentials[registry] { return try await known.value }
        let task = Task { try await store.credential(for: registry) }
        credentials[registry] = task
        do {
            return try await task.value
        } catch {
            // A helper that failed is asked again next time (it may have been a passing fault).
            credentials[registry] = nil
            throw error
        }
    }

    /// Forgets the credential of `registry` (the registry refused it: a helper may have a newer one).
    func forgetCredential(for registry: String) { credentials[registry] = nil }

    func learn(_ challenge: AuthChallenge, for registry: String) {
        challenges[registry] = challenge
        // A new challenge means the tokens we held were not good enough.
        tokens = tokens.filter { $0.key.realm != challenge.realm }
    }

    func challenge(for registry: String) -> AuthChallenge? { challenges[registry] }
    func scheme(for registry: String) -> String? { schemes[registry] }
    func setScheme(_ scheme: String, for registry: String) { schemes[registry] = scheme }

    func token(for key: TokenKey) -> String? {
        guard let entry = tokens[key], entry.expires > clock.now else { return nil }
        return entry.token
    }

    func store(_ token: String, for key: TokenKey, lifetime: Duration) {
        // Renew a little early so a token never expires in flight.
        tokens[key] = (token, clock.now + max(.zero, lifetime - .seconds(10)))
    }
}

extension RegistryClient {
    /// The `Authorization` header for a request to `registry` in `scope`, if the registry has
    /// asked for authentication.
    func authorization(registry: String, scope: String?) async throws -> String? {
        guard let challenge = await auth.challenge(for: registry) else { return nil }
        let credential = try await auth.credential(for: registry, from: configuration.credentials)
        switch challenge.scheme {
        case "basic":
            guard let credential, let username = credential.username, let password = credential.password else {
                throw FathomError(
                    .unauthorized,
                    "\(registry) asks for Basic authentication and no credentials are configured for it (docker login, or --username and --password-stdin)")
            }
            return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case "bearer":
            guard let realm = challenge.realm else {
                throw FathomError(.unauthorized, "\(registry)'s Bearer challenge names no realm")
            }
            if let token = credential?.registryToken { return "Bearer \(token)" }
            let key = AuthState.TokenKey(realm: realm, service: challenge.service, scope: scope ?? challenge.scope)
            if let token = await auth.token(for: key) { return "Bearer \(token)" }
            let (token, lifetime) = try await fetchToken(key, registry: registry, credential: credential)
            await auth.store(token, for: key, lifetime: lifetime)
            return "Bearer \(token)"
        default:
            throw FathomError(.unauthorized, "\(registry) asks for the unsupported '\(challenge.scheme)' authentication scheme")
        }
    }

    private func fetchToken(
        _ key: AuthState.TokenKey, registry: String, credential: RegistryCredential?
    ) async throws -> (String, Duration) {
        guard var components = URLComponents(string: key.realm), let realmHost = components.host else {
            throw FathomError(.unauthorized, "\(registry)'s token realm '\(key.realm)' is not a URL")
        }
        // Credentials go to the realm only over TLS, or to a loopback or explicitly insecure host.
        let realmAllowsSecrets =
            components.scheme == "https" || Self.isLoopback(realmHost)
            || configuration.insecureRegistries.contains(realmHost) || configuration.insecureRegistries.contains(registry)
        var request: HTTPClientRequest
        if let refresh = credential?.identityToken, realmAllowsSecrets {
            request = HTTPClientRequest(url: key.realm)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            var form = URLComponents()
            form.queryItems = [
                URLQueryItem(name: "grant_type", value: "refresh_token"),
                URLQueryItem(name: "refresh_token", value: refresh),
                URLQueryItem(name: "client_id", value: "fathom"),
            ]
            if let service = key.service { form.queryItems?.append(URLQueryItem(name: "service", value: service)) }
            if let scope = key.scope { form.queryItems?.append(URLQueryItem(name: "scope", value: scope)) }
            request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
        } else {
            var query = components.queryItems ?? []
            if let service = key.service { query.append(URLQueryItem(name: "service", value: service)) }
            if let scope = key.scope { query.append(URLQueryItem(name: "scope", value: scope)) }
            components.queryItems = query
            request = HTTPClientRequest(url: components.string ?? key.realm)
            if let credential, let username = credential.username, let password = credential.password, realmAllowsSecrets {
                request.headers.add(name: "Authorization", value: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
            }
        }
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        let response: HTTPClientResponse
        do {
            response = try await http(for: realmHost + (components.port.map { ":\($0)" } ?? "")).execute(request, timeout: .seconds(30), logger: logger)
        } catch {
            throw FathomError(.transport, "the token server \(key.realm) could not be reached", cause: error)
        }
        let body = Array(try await response.body.collect(upTo: ByteLimits.errorBody).readableBytesView)
        guard response.status == .ok else {
            let cause: any Error = RegistryErrorBody.decode(body) ?? PlainErrorBody(text: String(decoding: body.prefix(300), as: UTF8.self))
            throw FathomError(
                .unauthorized,
                "the token server \(key.realm) answered \(response.status.code)"
                    + (credential == nil ? " (no credentials are configured for \(registry))" : " (it refused the credentials for \(registry))"),
                cause: cause)
        }
        struct TokenReply: Decodable {
            var token: String?
            var access_token: String?
            var expires_in: Int?
        }
        let reply: TokenReply
        do {
            reply = try JSONDecoder().decode(TokenReply.self, from: Data(body))
        } catch {
            throw FathomError(.unauthorized, "the token server \(key.realm) answered without token JSON", cause: error)
        }
        guard let token = reply.token ?? reply.access_token, !token.isEmpty else {
            throw FathomError(.unauthorized, "the token server \(key.realm) answered without a token")
        }
        // The spec's default lifetime is 60 seconds.
        return (token, .seconds(max(reply.expires_in ?? 60, 0)))
    }
}
