// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#error-codes
public import FathomCore
import Foundation

/// The `{"errors":[{"code":…,"message":…}]}` body a registry sends with an error status,
/// kept as the cause of the `FathomError` it produced.
public struct RegistryErrorBody: Error, Sendable, Decodable, CustomStringConvertible {
    public struct Item: Sendable, Decodable {
        public var code: String
        public var message: String?
    }
    public var errors: [Item]

    public var description: String {
        errors.map { item in item.message.map { "\(item.code): \($0)" } ?? item.code }.joined(separator: "; ")
    }

    /// Decodes the body, or nil when it is not the registry error shape.
    static func decode(_ bytes: [UInt8]) -> RegistryErrorBody? {
        guard let body = try? JSONDecoder().decode(RegistryErrorBody.self, from: Data(bytes)), !body.errors.isEmpty else {
            return nil
        }
        return body
    }
}

/// A non-JSON error body (a proxy's HTML page, a plain-text message), trimmed.
struct PlainErrorBody: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}

extension FathomError {
    /// The registry said, in the distribution spec's own codes, that it has no such manifest
    /// (`MANIFEST_UNKNOWN`) or repository (`NAME_UNKNOWN`): asking again gets the same answer.
    public var registryHasNoSuchImage: Bool {
        guard code == .notFound, let body = cause as? RegistryErrorBody else { return false }
        return body.errors.contains { $0.code == "MANIFEST_UNKNOWN" || $0.code == "NAME_UNKNOWN" }
    }
}
