import FathomCore
import FathomSource
import Foundation

/// `--allow-local-sources DIR`: scan requests may name OCI layouts (`oci:PATH[:tag]`) and OCI
/// archives (`oci-archive:FILE[:tag]`) under DIR, such as a registry mirrored there with
/// skopeo. The path is resolved (symlinks and `..`) before it is checked, by the process that
/// queues the job and again by the worker that opens it, so no request reads outside DIR.
struct LocalSources: Sendable {
    /// DIR, resolved.
    let root: String

    init(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FathomError(.invalidInput, "--allow-local-sources names no directory", path: directory)
        }
        root = Self.resolved(directory)
    }

    /// A local image the service may scan: its source, the job's name for it (the resolved
    /// path), and the repository (its path under DIR) and tag its report is found by.
    struct Image {
        var reference: SourceReference
        var name: String
        var repository: String
        var tag: String?
    }

    /// Whether `image` names a local source at all (it may still be refused).
    static func isLocal(_ image: String) -> Bool { image.hasPrefix("oci:") || image.hasPrefix("oci-archive:") }

    /// The local image `text` names under DIR; throws when it is outside, missing, or another kind.
    /// A relative path is under DIR (a client knows DIR's layout, not the service's working
    /// directory): `oci:team/app:1` is DIR/team/app.
    func image(_ text: String) throws -> Image {
        var text = text
        if let colon = text.firstIndex(of: ":"), !text[text.index(after: colon)...].hasPrefix("/") {
            text = text[...colon] + root + "/" + text[text.index(after: colon)...]
        }
        let reference = try SourceReference(parsing: text)
        let (scheme, path, tag): (String, String, String?)
        switch reference {
        case .ociLayout(let directory, let given): (scheme, path, tag) = ("oci", directory, given)
        case .ociArchive(let file, let given): (scheme, path, tag) = ("oci-archive", file, given)
        default: throw FathomError(.invalidInput, "local sources are oci:PATH[:tag] and oci-archive:FILE[:tag]", image: text)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FathomError(.notFound, "no such layout or archive under the local sources", image: text)
        }
        if scheme == "oci", !isDirectory.boolValue {
            throw FathomError(.invalidInput, "\(path) is a file: an OCI archive is oci-archive:FILE[:tag]", image: text)
        }
        if scheme == "oci-archive", isDirectory.boolValue {
            throw FathomError(.invalidInput, "\(path) is a directory: an OCI layout is oci:DIR[:tag]", image: text)
        }
        let real = Self.resolved(path)
        guard real.hasPrefix(root + "/"), real.count > root.count + 1 else {
            throw FathomError(.invalidInput, "\(path) is not under the local sources this service may read (--allow-local-sources)", image: text)
        }
        let relative = String(real.dropFirst(root.count + 1))
        let repository = scheme == "oci-archive" ? (relative as NSString).deletingPathExtension : relative
        let resolvedReference: SourceReference = scheme == "oci" ? .ociLayout(directory: real, tag: tag) : .ociArchive(path: real, tag: tag)
        return Image(reference: resolvedReference, name: "\(scheme):\(real)" + (tag.map { ":\($0)" } ?? ""), repository: repository, tag: tag)
    }

    /// The path with every symlink and `..` resolved (realpath(3)).
    static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
