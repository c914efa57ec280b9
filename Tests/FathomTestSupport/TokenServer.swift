// The distribution token protocol: https://distribution.github.io/distribution/spec/auth/token/
// and the JWT the registry verifies: https://distribution.github.io/distribution/spec/auth/jwt/
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small token server for the real registry's `auth: token:` mode: it checks Basic
/// credentials and issues ES256 JWTs whose `x5c` certificate the registry trusts through its
/// `rootcertbundle`. The flow is exercised over real HTTP, end to end.
public final class TokenServer: Sendable {
    public let port: Int
    public let certificatePath: String
    public let service = "fathom-test-registry"
    public let issuer = "fathom-test-issuer"
    private let channel: any Channel
    private let state: NIOLockedValueBox<[String]>

    public var realm: String { "http://127.0.0.1:\(port)/token" }

    /// Requests the server has answered, as `user scope` lines (`-` for anonymous).
    public var requests: [String] { state.withLockedValue { $0 } }

    /// `username`/`password` get every action they ask for; anonymous callers get `anonymousActions`.
    public init(username: String, password: String, anonymousActions: [String] = []) async throws {
        let directory = try Fixtures.temporaryDirectory("token")
        certificatePath = directory + "/cert.pem"
        try await Tool.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory + "/key.pem", "-out", certificatePath, "-days", "2", "-subj", "/CN=fathom-test-token",
        ])
        let keyPEM = try String(contentsOfFile: directory + "/key.pem", encoding: .utf8)
        let key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        let der = try await Tool.run(["openssl", "x509", "-in", certificatePath, "-outform", "DER"]).stdout
        let signer = JWTSigner(
            key: key, certificate: der.base64EncodedString(), issuer: issuer, service: service, username: username,
            password: password, anonymousActions: anonymousActions)
        let state = NIOLockedValueBox<[String]>([])
        self.state = state
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(TokenHandler(signer: signer, log: state))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    public func stop() async throws {
        try await channel.close()
    }
}

struct JWTSigner: Sendable {
    let key: P256.Signing.PrivateKey
    let certificate: String
    let issuer: String
    let service: String
    let username: String
    let password: String
    let anonymousActions: [String]

    /// Answers a token request: (status, body).
    func answer(query: [String: String], authorization: String?) -> (HTTPResponseStatus, String, String) {
        var user: String?
        if let authorization, authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) })
        {
            guard decoded == "\(username):\(password)" else {
                return (.unauthorized, #"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#, "bad")
            }
            user = username
        }
        guard query["service"] == service else {
            return (.badRequest, #"{"errors":[{"code":"DENIED","message":"unknown service"}]}"#, "bad-service")
        }
        var access: [[String: Any]] = []
        if let scope = query["scope"] {
            for item in scope.split(separator: " ") {
                let parts = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3 else { continue }
                let requested = parts[parts.count - 1].split(separator: ",").map(String.init)
                let name = parts[1..<(parts.count - 1)].joined(separator: ":")
                let granted = user == nil ? requested.filter(anonymousActions.contains) : requested
                access.append(["type": parts[0], "name": name, "actions": granted])
            }
        }
        let now = Int(Date().timeIntervalSince1970)
        let header: [String: Any] = ["typ": "JWT", "alg": "ES256", "x5c": [certificate]]
        let claims: [String: Any] = [
            "iss": issuer, "sub": user ?? "", "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": UUID().uuidString, "access": access,
        ]
        let signingInput = Self.base64URL(try! JSONSerialization.data(withJSONObject: header)) + "."
            + Self.base64URL(try! JSONSerialization.data(withJSONObject: claims))
        let signature = try! key.signature(for: Data(signingInput.utf8)).rawRepresentation
        let token = signingInput + "." + Self.base64URL(signature)
        let body = try! JSONSerialization.data(withJSONObject: ["token": token, "expires_in": 300])
        return (.ok, String(decoding: body, as: UTF8.self), "\(user ?? "-") \(query["scope"] ?? "")")
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

final class TokenHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let signer: JWTSigner
    let log: NIOLockedValueBox<[String]>
    var head: HTTPRequestHead?

    init(signer: JWTSigner, log: NIOLockedValueBox<[String]>) {
        self.signer = signer
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let components = URLComponents(string: "http://localhost" + head.uri)
            var query: [String: String] = [:]
            for item in components?.queryItems ?? [] {
                // Several scope parameters are joined with spaces, as the spec allows.
                if let existing = query[item.name] { query[item.name] = existing + " " + (item.value ?? "") } else {
                    query[item.name] = item.value ?? ""
                }
            }
            let (status, body, line) = signer.answer(query: query, authorization: head.headers.first(name: "Authorization"))
            log.withLockedValue { $0.append(line) }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            self.head = nil
        }
    }
}
