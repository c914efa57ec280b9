import FathomArchive
public import FathomCore
import FathomOCI
import Foundation

// skopeo's other transports a user may have files in: `oci-archive:FILE[:tag]` (an OCI image
// layout in a tar, as `skopeo copy … oci-archive:` and `podman save --format oci-archive` write
// it) and `dir:DIR` (skopeo's directory transport: `manifest.json` and blobs named by their hex).

extension OCILayoutSource {
    /// An OCI layout inside a tar (compressed with gzip or zstd, or not), read in place.
    public init(archive path: String, tag: String?) throws {
        let name = "oci-archive:\(path)" + (tag.map { ":\($0)" } ?? "")
        let storage: ArchiveStorage
        do {
            var file = try ReadOnlyFile(path: path)
            let compression = LayerCompression.sniff(try file.read(at: 0, count: 4))
            if compression != .uncompressed { file = try DockerArchiveSource.decompressed(file, compression) }
            storage = try ArchiveStorage(file: file, location: path)
        } catch {
            throw FathomError.wrapping(error, image: name)
        }
        self.init(storage: storage, tag: tag, displayName: name)
    }

    /// skopeo's `dir:` transport, seen as a one-image layout.
    public init(skopeoDirectory directory: String) throws {
        let name = "dir:\(directory)"
        guard isDirectory(directory) else { throw FathomError(.notFound, "no directory at \(directory)", image: name) }
        do {
            self.init(storage: try SkopeoDirectoryStorage(root: directory), tag: nil, displayName: name)
        } catch {
            throw FathomError.wrapping(error, image: name)
        }
    }
}

/// A skopeo `dir:` directory as the files of an OCI layout: an `oci-layout` marker and an
/// `index.json` naming `manifest.json` by its digest, which (like every blob) is read from the
/// directory itself.
struct SkopeoDirectoryStorage: LayoutStorage {
    let root: String
    let manifest: [UInt8]
    let manifestDigest: Digest
    let index: [UInt8]
    var location: String { root }

    init(root: String) throws {
        self.root = root
        guard let manifest = try DirectoryStorage(root: root).read("manifest.json", limit: ByteLimits.document) else {
            throw FathomError(.invalidManifest, "\(root) has no manifest.json: not a skopeo dir: directory")
        }
        self.manifest = manifest
        var hasher = DigestHasher()
        hasher.update(manifest)
        manifestDigest = hasher.finalize()
        let mediaType = (try? JSONSerialization.jsonObject(with: Data(manifest)) as? [String: Any])?["mediaType"] as? String
            ?? MediaType.ociManifest.rawValue
        let entry: [String: Any] = ["mediaType": mediaType, "digest": manifestDigest.description, "size": manifest.count]
        index = Array(try JSONSerialization.data(withJSONObject: ["schemaVersion": 2, "manifests": [entry]]))
    }

    func read(_ path: String, limit: Int) throws -> [UInt8]? {
        switch path {
        case "oci-layout": return Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8)
        case "index.json": return index
        case OCILayoutSource.blobPath(manifestDigest): return manifest
        default: return try DirectoryStorage(root: root).read(Self.file(for: path), limit: limit)
        }
    }

    func stream(_ path: String) throws -> ByteStream {
        try DirectoryStorage(root: root).stream(Self.file(for: path))
    }

    /// `blobs/sha256/<hex>` is the file `<hex>` in the directory.
    static func file(for path: String) -> String {
        path.hasPrefix("blobs/") ? String(path.split(separator: "/").last ?? "") : path
    }
}
