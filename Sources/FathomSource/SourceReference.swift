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
            let (directory, tag) = Self.split(String(text.dropFirst(4))) { path in
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
            }
            self = .ociLayout(directory: directory, tag: tag)
        } else if text.hasPrefix("oci-archive:") {
            let (path, tag) = Self.split(String(text.dropFirst("oci-archive:".count))) { FileManager.default.fileExists(atPath: $0) }
            self = .ociArchive(path: path, tag: tag)
        } else if text.hasPrefix("rootfs:") {
            self = .rootFS(String(text.dropFirst("rootfs:".count)))
        } else if text.hasPrefix("dir:") {
            self = .skopeoDirectory(String(text.dropFirst("dir:".count)))
        } else if text.hasPrefix("docker-archive:") {
            // With no prefix that exists, the whole text is the file the error names.
            let (path, selector) = Self.split(String(text.dropFirst("docker-archive:".count)), orLastColon: false) {
                FileManager.default.fileExists(atPath: $0)
            }
            self = .dockerArchive(path: path, selector: selector)
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
            // `docker-archve:img.tar`, a transport mistyped before a path that is here, would be
            // Docker Hub's image `docker-archve` at tag `img.tar`: say which transport was meant.
            if !text.hasPrefix("docker://"), let colon = text.firstIndex(of: ":"), let meant = Self.transportMeant(String(text[..<colon])) {
                let rest = String(text[text.index(after: colon)...])
                if FileManager.default.fileExists(atPath: Self.split(rest, orLastColon: false) { FileManager.default.fileExists(atPath: $0) }.path) {
                    throw FathomError(
                        .invalidInput,
                        "'\(text[..<colon]):' is not a source fathom reads, and '\(rest)' is a path here: did you mean \(meant):\(rest)? "
                            + "(docker://\(text) for the registry image)")
                }
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

    /// `PATH[:reference]` as skopeo reads it: the path is the whole text if it `exists`, else the
    /// shortest prefix before a ':' that does (a reference may hold a ':' itself, as containerd's
    /// `busybox:1.38.0-glibc` does); with none, the last ':' not followed by a '/' ends the path
    /// (`orLastColon`), or the whole text is the path.
    static func split(_ text: String, orLastColon: Bool = true, exists: (String) -> Bool) -> (path: String, reference: String?) {
        if exists(text) { return (text, nil) }
        var index = text.startIndex
        while let colon = text[index...].firstIndex(of: ":") {
            if exists(String(text[..<colon])) { return (String(text[..<colon]), String(text[text.index(after: colon)...])) }
            index = text.index(after: colon)
        }
        if orLastColon, let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }
        return (text, nil)
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

    /// The transport `word` is a slip of (a letter or two off, or in capitals), or nil.
    static func transportMeant(_ word: String) -> String? {
        let transports = ["docker-archive", "oci-archive", "oci", "dir", "rootfs", "sbom"]
        guard !transports.contains(word) else { return nil }
        let scored = transports.map { ($0, editDistance(word.lowercased(), $0)) }.filter { $0.1 <= min(2, $0.0.count / 3) }
        return scored.min { $0.1 < $1.1 }?.0
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
