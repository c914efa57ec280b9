import FathomCore
public import FathomOCI
public import FathomRegistry
import Foundation

/// Where an image comes from, as the user wrote it:
/// `registry/repo:tag`, `registry/repo@sha256:…` (optionally `docker://…`),
/// `oci:DIR[:tag]`, `docker-archive:FILE[:repo:tag | :@N]`.
public enum SourceReference: Sendable, Hashable {
    case registry(ImageReference)
    case ociLayout(directory: String, tag: String?)
    case dockerArchive(path: String, selector: String?)

    public init(parsing text: String) throws {
        if text.hasPrefix("oci:") {
            let rest = String(text.dropFirst(4))
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: rest, isDirectory: &isDir), isDir.boolValue {
                self = .ociLayout(directory: rest, tag: nil)
            } else if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
                self = .ociLayout(directory: String(rest[..<colon]), tag: String(rest[rest.index(after: colon)...]))
            } else {
                self = .ociLayout(directory: rest, tag: nil)
            }
        } else if text.hasPrefix("docker-archive:") {
            let rest = String(text.dropFirst("docker-archive:".count))
            if FileManager.default.fileExists(atPath: rest) {
                self = .dockerArchive(path: rest, selector: nil)
                return
            }
            // The file is the shortest prefix ending before a ':' that exists; the rest selects an image.
            var index = rest.startIndex
            while let colon = rest[index...].firstIndex(of: ":") {
                let path = String(rest[..<colon])
                if FileManager.default.fileExists(atPath: path) {
                    self = .dockerArchive(path: path, selector: String(rest[rest.index(after: colon)...]))
                    return
                }
                index = rest.index(after: colon)
            }
            self = .dockerArchive(path: rest, selector: nil)
        } else {
            let bare = text.hasPrefix("docker://") ? String(text.dropFirst("docker://".count)) : text
            do {
                self = .registry(try ImageReference(parsing: bare))
            } catch {
                throw FathomError(
                    .invalidInput,
                    "'\(text)' is not an image reference: use registry/repo:tag, registry/repo@sha256:…, oci:DIR[:tag] or docker-archive:FILE",
                    cause: error)
            }
        }
    }

    /// Opens the source; `client` is used for registry references.
    public func open(client: @autoclosure () throws -> RegistryClient) throws -> any ImageSource {
        switch self {
        case .registry(let reference): return RegistryImageSource(reference: reference, client: try client())
        case .ociLayout(let directory, let tag): return try OCILayoutSource(directory: directory, tag: tag)
        case .dockerArchive(let path, let selector): return try DockerArchiveSource(path: path, selector: selector)
        }
    }
}
