// RFC 9110 §11.6.1 (WWW-Authenticate), and the distribution token spec:
// https://distribution.github.io/distribution/spec/auth/token/

/// One authentication challenge from a `WWW-Authenticate` header.
public struct AuthChallenge: Hashable, Sendable {
    /// The scheme, lower-cased: `bearer`, `basic`.
    public var scheme: String
    /// Parameters with lower-cased names (`realm`, `service`, `scope`, `error`).
    public var parameters: [String: String]

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses every challenge in a header value, e.g.
    /// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`.
    /// Quoted strings may hold commas and backslash escapes. Malformed parts are skipped.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        var current: AuthChallenge?
        while true {
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: ",") }
            guard let token = scanner.token() else { break }
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            if scanner.peek == UInt8(ascii: "="), current != nil {
                scanner.advance()
                scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
                let value = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : (scanner.token() ?? "")
                current?.parameters[token.lowercased()] = value
            } else {
                // A token not followed by '=' starts a new challenge (its scheme).
                if let finished = current { challenges.append(finished) }
                current = AuthChallenge(scheme: token.lowercased(), parameters: [:])
                // token68 form (`Basic abc==`) is not used by registries; skip it if present.
            }
        }
        if let finished = current { challenges.append(finished) }
        return challenges
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
        mutating func advance() { index += 1 }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while let byte = peek, predicate(byte) { index += 1 }
        }

        /// An RFC 9110 token (tchar+); nil if none is here.
        mutating func token() -> String? {
            let start = index
            while let byte = peek, Self.isTokenChar(byte) { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }

        mutating func quoted() -> String {
            advance()  // opening quote
            var value: [UInt8] = []
            while let byte = peek {
                advance()
                if byte == UInt8(ascii: "\\"), let escaped = peek {
                    value.append(escaped)
                    advance()
                } else if byte == UInt8(ascii: "\"") {
                    break
                } else {
                    value.append(byte)
                }
            }
            return String(decoding: value, as: UTF8.self)
        }

        static func isTokenChar(_ byte: UInt8) -> Bool {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) {
                return true
            }
            return "!#$%&'*+-.^_`|~/:".utf8.contains(byte)
        }
    }
}
