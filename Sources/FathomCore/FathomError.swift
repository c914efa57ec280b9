import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one error type fathom throws.
///
/// It names what failed (the image, the layer, the file) and why, keeps the underlying cause,
/// and records where it was thrown. Modelled on swift-nio's `FileSystemError`: the code is an
/// opaque, extensible struct so new codes never break a caller's `switch`.
public struct FathomError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, as printed and as matched by tests.
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A reference, digest, media type or document did not parse.
        public static let invalidInput = Code("invalid input")
        /// A manifest, index or config is not what the OCI spec allows.
        public static let invalidManifest = Code("invalid manifest")
        /// Nothing was found at the name or digest asked for.
        public static let notFound = Code("not found")
        /// The registry refused the credentials, or none were given where they are needed.
        public static let unauthorized = Code("unauthorized")
        /// Bytes do not hash to the digest they were promised under.
        public static let digestMismatch = Code("digest mismatch")
        /// A blob is larger or smaller than its descriptor says.
        public static let sizeMismatch = Code("size mismatch")
        /// A stream ended before its format says it is complete.
        public static let truncated = Code("truncated")
        /// A compressed stream is corrupt.
        public static let corruptCompression = Code("corrupt compressed stream")
        /// A tar header or PAX record is corrupt.
        public static let corruptTar = Code("corrupt tar")
        /// An index has no manifest for the platform asked for.
        public static let noMatchingPlatform = Code("no matching platform")
        /// The media type is one fathom does not read.
        public static let unsupported = Code("unsupported")
        /// A network or HTTP failure that retries did not cure.
        public static let transport = Code("transport")
        /// The registry answered with an error status.
        public static let registry = Code("registry error")
        /// A server that is not a registry (a feed's, a notification receiver's) answered with an error status.
        public static let httpStatus = Code("HTTP error")
        /// A file could not be opened, read or written.
        public static let io = Code("io")
        /// A configured limit (bytes, entries) was exceeded.
        public static let limitExceeded = Code("limit exceeded")
        /// The work took longer than it was given (`--image-timeout`).
        public static let timedOut = Code("timed out")
        /// A worker no longer holds its job's lease: what it was about to store is not stored.
        public static let leaseLost = Code("lease lost")
    }

    /// Where an error was thrown, for bug reports.
    public struct SourceLocation: Sendable, Hashable {
        public let function: String
        public let file: String
        public let line: Int
    }

    public var code: Code
    /// What went wrong and, where it helps, how to fix it.
    public var message: String
    /// The image the failure belongs to, when known.
    public var image: String?
    /// The layer (digest) the failure belongs to, when known.
    public var layer: String?
    /// The file inside a layer or archive, when known.
    public var path: String?
    /// The underlying error, never dropped.
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(
        _ code: Code, _ message: String, image: String? = nil, layer: String? = nil, path: String? = nil,
        cause: (any Error)? = nil,
        function: String = #function, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.image = image
        self.layer = layer
        self.path = path
        self.cause = cause
        self.location = SourceLocation(function: function, file: file, line: line)
    }

    /// One line: `image X: layer Y: file Z (or the URL): code: message: cause`.
    public var description: String {
        var parts: [String] = []
        if let image { parts.append("image \(image)") }
        if let layer { parts.append("layer \(layer)") }
        // A URL (a store's, a feed's) is named as it is, not as a file.
        if let path { parts.append(path.contains("://") ? path : "file \(path)") }
        parts.append("\(code): \(message)")
        if let cause { parts.append(Self.plain(cause)) }
        return parts.joined(separator: ": ")
    }

    /// A cause in words: Foundation's file errors as the system says them ("No such file or
    /// directory"), not `Error Domain=NSCocoaErrorDomain Code=260 UserInfo={…}`.
    public static func plain(_ cause: any Error) -> String {
        if cause is FathomError { return String(describing: cause) }
        if let described = cause as? any PlainlyDescribedError { return described.plainDescription }
        if let decoding = cause as? DecodingError { return describe(decoding) }
        let error = cause as NSError
        guard error.domain == NSCocoaErrorDomain || error.domain == NSPOSIXErrorDomain else { return String(describing: cause) }
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))) }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        // Foundation's own codes with no system error beneath: said as the system would say them.
        if error.domain == NSCocoaErrorDomain, let errno = [4: ENOENT, 260: ENOENT, 257: EACCES, 513: EACCES, 516: EEXIST, 640: ENOSPC, 642: EROFS][error.code] {
            return String(cString: strerror(errno))
        }
        if error.domain == NSCocoaErrorDomain, error.code == 512 { return "the file could not be written" }
        return error.localizedDescription
    }

    /// What a Codable decode found wrong, where, in words ("Too many nested arrays or
    /// dictionaries around line 1, column 513"), not "the data isn't in the correct format".
    static func describe(_ error: DecodingError) -> String {
        func place(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return (underlying ?? context.debugDescription) + place(context.codingPath)
        case .keyNotFound(let key, let context):
            return "no '\(key.stringValue)'\(place(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return context.debugDescription + place(context.codingPath)
        @unknown default:
            return String(describing: error)
        }
    }

    /// The same error with the file filled in where it was not yet known.
    public func with(path: String) -> FathomError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }
}

extension FathomError {
    /// Wraps any error as a `FathomError` with context, keeping an existing `FathomError` intact.
    public static func wrapping(
        _ error: any Error, image: String? = nil, layer: String? = nil,
        function: String = #function, file: String = #fileID, line: Int = #line
    ) -> FathomError {
        if var fathom = error as? FathomError {
            if fathom.image == nil { fathom.image = image }
            if fathom.layer == nil { fathom.layer = layer }
            return fathom
        }
        return FathomError(
            .io, "unexpected failure", image: image, layer: layer, cause: error,
            function: function, file: file, line: line)
    }
}

/// An error of a library whose own description says less than it knows (PostgresNIO's
/// `PSQLError` prints "Generic description to prevent accidental leakage of sensitive data"):
/// the module that uses the library says what of it is safe to print.
public protocol PlainlyDescribedError: Error {
    var plainDescription: String { get }
}

extension FathomError {
    /// `error` as the command line prints it: a library error that says more in words is
    /// wrapped to say it; every other error is left as it is (usage errors, exit codes).
    public static func presentable(_ error: any Error) -> any Error {
        guard !(error is FathomError), let described = error as? any PlainlyDescribedError else { return error }
        return FathomError(.io, described.plainDescription)
    }
}
