import AsyncHTTPClient
import FathomCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

extension RegistryClient {
    /// Sends one API request with authentication and retries. Returns a response whose status
    /// is a success; error statuses are thrown as `FathomError` with the decoded error body.
    func send(
        _ method: HTTPMethod, registry: String, path: String, scope: String?,
        headers: [(String, String)] = [], timeout: Duration? = nil, maxAttempts: Int? = nil, body: [UInt8]? = nil
    ) async throws -> HTTPClientResponse {
        // A registry that answered none of the tries of a recent request is asked once, not
        // with every retry, until it answers again: one that goes down mid-fleet fails the
        // fleet's remaining requests at once, instead of each waiting out its retries in turn
        // (a thousand repositories' listings took the better part of an hour).
        let unreachable = await gates.isUnreachable(registry, within: .seconds(30))
        let maxAttempts = unreachable ? 1 : maxAttempts ?? configuration.maxAttempts
        let base = try await baseURL(for: registry)
        // A registry's upload Location may be absolute; it is always on the same registry.
        let url = path.hasPrefix("http://") || path.hasPrefix("https://") ? path : base + path
        var attempt = 0
        var answeredChallenge = false
        while true {
            attempt += 1
            try await gates.waitIfPaused(registry)
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            request.headers.add(name: "X-Fathom-Scan-Id", value: configuration.scanID)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body {
                request.body = .bytes(ByteBuffer(bytes: body))
                request.headers.replaceOrAdd(name: "Content-Length", value: "\(body.count)")
            }
            if let authorization = try await authorization(registry: registry, scope: scope) {
                request.headers.add(name: "Authorization", value: authorization)
            }
            let response: HTTPClientResponse
            do {
                response = try await http(for: registry).execute(
                    request, timeout: TimeAmount(timeout ?? configuration.requestTimeout),
                    logger: logger)
            } catch {
                if error is CancellationError { throw error }
                guard attempt < maxAttempts, Self.isRetryable(error) else {
                    if Self.isRetryable(error) { await gates.markUnreachable(registry) }
                    let tries = "\(attempt) tr\(attempt == 1 ? "y" : "ies")" + (unreachable ? " (the registry did not answer a request just before this one, so each request is tried once until it answers again)" : "")
                    throw FathomError(.transport, "\(method) \(url) failed after \(tries)", cause: TransportFailure(error))
                }
                try await backoff(attempt: attempt, retryAfter: nil, reason: "\(error)", url: url)
                continue
            }
            if unreachable { await gates.markAnswered(registry) }
            let status = response.status.code
            if (200..<300).contains(status) { return response }
            switch status {
            case 401 where !answeredChallenge:
                // Learn the challenge, fetch what it asks for, and try once more.
                // Raw values: the canonical form would split the challenge at its commas.
                let challenges = response.headers["WWW-Authenticate"].flatMap { AuthChallenge.parse($0) }
                _ = try? await response.body.collect(upTo: ByteLimits.errorBody)
                guard let challenge = challenges.first(where: { $0.scheme == "bearer" }) ?? challenges.first(where: { $0.scheme == "basic" })
                else {
                    throw FathomError(.unauthorized, "\(url) answered 401 without a usable WWW-Authenticate challenge")
                }
                await auth.learn(challenge, for: registry)
                answeredChallenge = true
                attempt -= 1  // answering a challenge is not a retry
                continue
            // The statuses go-containerregistry retries: a registry behind a load balancer answers them while it recovers.
            case _ where [408, 429, 500, 502, 503, 504].contains(status) && attempt < maxAttempts:
                _ = try? await response.body.collect(upTo: ByteLimits.errorBody)
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.parseRetryAfter)
                if let retryAfter, retryAfter > configuration.maxRetryAfter {
                    throw FathomError(.registry, "\(url) asks to retry after \(retryAfter), longer than fathom waits")
                }
                if let retryAfter {
                    await gates.pause(registry, for: retryAfter)
                } else if status == 429 {
                    await gates.pause(registry, for: configuration.baseBackoff * (1 << min(attempt - 1, 16)))
                }
                try await backoff(attempt: attempt, retryAfter: retryAfter, reason: "HTTP \(status)", url: url)
                continue
            default:
                throw try await error(for: response, method: method, url: url, registry: registry)
            }
        }
    }

    /// Maps an error status to a `FathomError`, with the registry's error body as the cause.
    private func error(for response: HTTPClientResponse, method: HTTPMethod, url: String, registry: String) async throws -> FathomError {
        let bytes = (try? await response.body.collect(upTo: ByteLimits.errorBody)).map { Array($0.readableBytesView) } ?? []
        let cause: (any Error)? =
            RegistryErrorBody.decode(bytes)
            ?? (bytes.isEmpty ? nil : PlainErrorBody(text: String(decoding: bytes.prefix(300), as: UTF8.self)))
        let status = response.status.code
        switch status {
        case 401, 403:
            let hasCredential = (try? await auth.credential(for: registry, from: configuration.credentials)) ?? nil
            if hasCredential != nil { await auth.forgetCredential(for: registry) }
            let hint =
                hasCredential == nil
                ? "the registry needs credentials: log in with docker login, or pass --username and --password-stdin"
                : "the registry refused the credentials for \(registry)"
            return FathomError(.unauthorized, "\(method) \(url) answered \(status): \(hint)", cause: cause)
        case 404:
            return FathomError(.notFound, "\(method) \(url) answered 404", cause: cause)
        default:
            return FathomError(.registry, "\(method) \(url) answered \(status)", cause: cause)
        }
    }

    private func backoff(attempt: Int, retryAfter: Duration?, reason: String, url: String) async throws {
        let exponential = configuration.baseBackoff * (1 << min(attempt - 1, 16))
        var delay = min(exponential, configuration.maxBackoff)
        // Full jitter on our own backoff keeps many workers from retrying in lock-step.
        delay = delay * Double.random(in: 0.5...1.0)
        if let retryAfter { delay = max(delay, retryAfter) }
        logger.info(
            "retrying request", metadata: ["url": "\(url)", "reason": "\(reason)", LogKey.attempt: "\(attempt)", "delay": "\(delay)"])
        try await clock.sleep(for: delay)
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func parseRetryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSinceNow.rounded(.up))))
    }

    /// Connection resets, timeouts and refused connections are worth another try; TLS
    /// failures are not (they would fail the same way).
    /// A transport failure in the words a person uses ("connection refused"), not the nested
    /// dump of NIO's and the HTTP client's error values; the dump only when nothing matches.
    /// `forRegistry`: with the hint of the registry option that fixes it (`--ca-file`,
    /// `--insecure-registry`), which other downloads (feeds) do not have.
    static func plainWords(_ error: any Error, forRegistry: Bool = true) -> String {
        let text = String(describing: error)
        let known: [(String, String)] = [
            ("Connection refused", "connection refused"),
            ("UnknownHost", "unknown host (the name does not resolve)"),
            ("Name or service not known", "unknown host (the name does not resolve)"),
            ("No route to host", "no route to host"),
            ("Network is unreachable", "network unreachable"),
            ("Connection reset", "connection reset by the server"),
            ("connectTimeout", "the connection timed out"),
            ("readTimeout", "no answer in time (read timeout)"),
            ("deadlineExceeded", "no answer in time"),
            ("remoteConnectionClosed", "the server closed the connection"),
            ("failedToValidateHostname", "the server's TLS certificate is for another host name than the one asked for"),
            ("serverHostnameImpossibleToMatch", "the host name cannot match any name a TLS certificate holds"),
            ("certificateVerify", "the server's TLS certificate is not trusted" + (forRegistry ? " (give its CA with --ca-file)" : "")),
            ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate is not trusted" + (forRegistry ? " (give its CA with --ca-file)" : "")),
            ("handshakeFailed", "the TLS handshake failed"),
            ("WRONG_VERSION_NUMBER", "the server does not speak TLS here" + (forRegistry ? " (plain HTTP? see --insecure-registry)" : " (plain HTTP?)")),
        ]
        for (needle, words) in known where text.contains(needle) { return words }
        return text
    }

    static func isRetryable(_ error: any Error) -> Bool {
        if error is NIOSSLError || error is BoringSSLError { return false }
        if let client = error as? HTTPClientError {
            return [
                HTTPClientError.remoteConnectionClosed, .readTimeout, .connectTimeout, .deadlineExceeded,
                .cancelled, .writeTimeout,
            ].contains(client) || client == .getConnectionFromPoolTimeout
        }
        return true  // socket-level failures: reset, refused, unreachable
    }

    /// `https://host`, except for loopback hosts and hosts named insecure that answer plain
    /// HTTP on `/v2/` (decided once per registry). The plain probe goes first because a TLS
    /// attempt at a plain server only fails after the connection pool's retries time out,
    /// while a TLS server answers a plain request at once (Go's servers with a 400 that says so).
    func baseURL(for registry: String) async throws -> String {
        if let known = await auth.scheme(for: registry) { return "\(known)://\(registry)" }
        guard Self.isLoopback(registry) || configuration.insecureRegistries.contains(registry) else {
            await auth.setScheme("https", for: registry)
            return "https://\(registry)"
        }
        var probe = HTTPClientRequest(url: "http://\(registry)/v2/")
        probe.headers.add(name: "User-Agent", value: configuration.userAgent)
        var scheme: String?
        if let response = try? await http(for: registry).execute(probe, timeout: .seconds(10), logger: logger) {
            let body = (try? await response.body.collect(upTo: ByteLimits.errorBody)).map { String(buffer: $0) } ?? ""
            scheme = response.status == .badRequest && body.contains("HTTPS") ? "https" : "http"
        } else {
            var tlsProbe = HTTPClientRequest(url: "https://\(registry)/v2/")
            tlsProbe.headers.add(name: "User-Agent", value: configuration.userAgent)
            if let response = try? await http(for: registry).execute(tlsProbe, timeout: .seconds(10), logger: logger) {
                _ = try? await response.body.collect(upTo: ByteLimits.errorBody)
                scheme = "https"
            }
        }
        // Undecided (nothing answered yet, a slow or starting registry): plain HTTP for this
        // request, and no memory of it, so the next request probes again.
        guard let scheme else { return "http://\(registry)" }
        logger.debug("registry scheme chosen", metadata: [LogKey.registry: "\(registry)", "scheme": "\(scheme)"])
        await auth.setScheme(scheme, for: registry)
        return "\(scheme)://\(registry)"
    }

    static func isLoopback(_ registry: String) -> Bool {
        var host = Substring(registry)
        if host.hasPrefix("[") {
            host = host.dropFirst().prefix { $0 != "]" }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}

/// A transport failure as a cause: printed in plain words (`RegistryClient.plainWords`), the
/// HTTP client's own error kept beneath them for whoever needs its detail (errno, addresses).
public struct TransportFailure: Error, CustomStringConvertible {
    public let underlying: any Error
    public let description: String

    public init(_ underlying: any Error, forRegistry: Bool = true) {
        self.underlying = underlying
        self.description = RegistryClient.plainWords(underlying, forRegistry: forRegistry)
    }
}
