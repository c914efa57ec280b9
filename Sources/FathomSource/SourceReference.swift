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
    case ociArchive(path: String, tag: String?)
    case skopeoDirectory(String)
    /// An unpacked root file system (`rootfs:DIR`), scanned as one layer.
    case rootFS(String)

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
        } else if text.hasPrefix("oci-archive:") {
            let rest = String(text.dropFirst("oci-archive:".count))
            if !FileManager.default.fileExists(atPath: rest), let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
                self = .ociArchive(path: String(rest[..<colon]), tag: String(rest[rest.index(after: colon)...]))
            } else {
                self = .ociArchive(path: rest, tag: nil)
            }
        } else if text.hasPrefix("rootfs:") {
            self = .rootFS(String(text.dropFirst("rootfs:".count)))
        } else if text.hasPrefix("dir:") {
            self = .skopeoDirectory(String(text.dropFirst("dir:".count)))
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
        } else if let transport = Self.unsupportedTransport(in: text) {
            // skopeo's other transports, or a URL scheme: never looked up as a registry host.
            throw FathomError(
                .unsupported,
                "'\(transport):' is not a source fathom reads: use registry/repo:tag (or docker://), oci:DIR, oci-archive:FILE, dir:DIR, docker-archive:FILE, rootfs:DIR or sbom:FILE")
        } else {
            let bare = text.hasPrefix("docker://") ? String(text.dropFirst("docker://".count)) : text
            // A path on disk given bare would be looked up on Docker Hub: say what to write instead.
            var isDirectory: ObjCBool = false
            if !text.hasPrefix("docker://"), FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) {
                throw FathomError(
                    .invalidInput,
                    isDirectory.boolValue
                        ? "'\(text)' is a directory here: for an OCI image layout write oci:\(text), for skopeo's dir: format dir:\(text), for an unpacked root file system rootfs:\(text) "
                            + "(docker://\(text) for the registry image)"
                        : "'\(text)' is a file here: for a `docker save` tar write docker-archive:\(text), for an OCI layout in a tar "
                            + "oci-archive:\(text), for an SBOM sbom:\(text) "
                            + "(docker://\(text) for the registry image)")
            }
            do {
                self = .registry(try ImageReference(parsing: bare))
            } catch {
                throw FathomError(
                    .invalidInput,
                    "'\(text)' is not an image reference: use registry/repo:tag, registry/repo@sha256:…, oci:DIR[:tag], oci-archive:FILE[:tag], dir:DIR or docker-archive:FILE",
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
        case .ociArchive(let path, let tag): return try OCILayoutSource(archive: path, tag: tag)
        case .skopeoDirectory(let directory): return try OCILayoutSource(skopeoDirectory: directory)
        case .rootFS(let directory): return try RootFSSource(directory: directory)
        }
    }

    /// The transport `text` names when it is one fathom does not read (`ftp://…`,
    /// `containers-storage:…`, `docker-daemon:…`): a word before `:` that is not a host, as a
    /// registry reference's first part (`host:port/…`, `repo:tag`) never is.
    static func unsupportedTransport(in text: String) -> String? {
        let known: Set<String> = ["containers-storage", "docker-daemon", "ostree", "sif", "tarball", "ftp", "http", "https", "file", "s3", "gs"]
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let word = text[..<colon].lowercased()
        if known.contains(word) { return word }
        // `word://` is a URL scheme, never a registry host.
        if text[colon...].hasPrefix("://"), word != "docker" { return word }
        return nil
    }
}
