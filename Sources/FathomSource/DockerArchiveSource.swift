// https://github.com/moby/moby/blob/master/image/spec/v1.2.md (legacy `docker save` layout)
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FathomArchive
public import FathomCore
public import FathomOCI
import Foundation

/// A `docker save` archive (`docker-archive:FILE[:repo:tag]`): the legacy layout
/// (`manifest.json`, `<id>/layer.tar`) and Docker 25+'s OCI layout in a tar. A gzip- or
/// zstd-compressed archive is first decompressed to an unlinked temporary file.
public struct DockerArchiveSource: ImageSource {
    let storage: ArchiveStorage
    let selector: String?
    public let displayName: String

    public init(path: String, selector: String? = nil) throws {
        let name = "docker-archive:\(path)" + (selector.map { ":\($0)" } ?? "")
        do {
            var file = try ReadOnlyFile(path: path)
            let prefix = try file.read(at: 0, count: 4)
            let compression = LayerCompression.sniff(prefix)
            if compression != .uncompressed { file = try Self.decompressed(file, compression) }
            self.storage = try ArchiveStorage(file: file, location: path)
        } catch {
            throw FathomError.wrapping(error, image: name)
        }
        self.selector = selector
        self.displayName = name
    }

    struct ManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
        var LayerSources: [String: Descriptor]?
    }

    public func resolve(platform: Platform) async throws -> ResolvedImage {
        do {
            // Docker 25+ writes a full OCI layout too: its descriptors are exact, so prefer it
            // when its index lists images (some writers leave it empty).
            if storage.members["oci-layout"] != nil, let indexBytes = try storage.read("index.json", limit: ByteLimits.document),
                case .index(let index) = try ManifestDocument.decode(indexBytes, mediaType: .ociIndex), !index.manifests.isEmpty
            {
                var image = try await OCILayoutSource(storage: storage, tag: selector, displayName: displayName)
                    .resolve(platform: platform)
                if let tags = try? legacyEntry().RepoTags, !tags.isEmpty { image.repoTags = tags }
                return image
            }
            return try resolveLegacy()
        } catch {
            throw FathomError.wrapping(error, image: displayName)
        }
    }

    private func legacyEntry() throws -> ManifestEntry {
        guard let bytes = try storage.read("manifest.json", limit: ByteLimits.document) else {
            throw FathomError(.invalidManifest, "the archive has no manifest.json: not a docker save archive")
        }
        let entries: [ManifestEntry]
        do {
            guard let decoded = try JSONDecoder().decode([ManifestEntry]?.self, from: Data(bytes)) else {
                throw FathomError(.invalidManifest, "manifest.json is null: the archive holds no image")
            }
            entries = decoded
        } catch let error as DecodingError {
            throw FathomError(.invalidManifest, "manifest.json is not a list of {Config, RepoTags, Layers}", cause: error)
        }
        guard !entries.isEmpty else {
            throw FathomError(.invalidManifest, "manifest.json lists no images")
        }
        if let selector {
            if selector.hasPrefix("@"), let index = Int(selector.dropFirst()), entries.indices.contains(index) {
                return entries[index]
            }
            let wanted = (try? ImageReference(parsing: selector))?.description
            if let entry = entries.first(where: { entry in
                (entry.RepoTags ?? []).contains { $0 == selector || (try? ImageReference(parsing: $0))?.description == wanted }
            }) {
                return entry
            }
            let names = entries.enumerated().map { index, entry in
                ((entry.RepoTags ?? []).isEmpty ? "untagged" : (entry.RepoTags ?? []).joined(separator: ", ")) + " (@\(index))"
            }
            throw FathomError(
                .notFound,
                "the archive has no image '\(selector)'; it has \(entries.count == 1 ? "one" : "\(entries.count)"): \(names.joined(separator: "; "))")
        }
        guard entries.count == 1 else {
            let names = entries.enumerated().map { index, entry in (entry.RepoTags?.first ?? "untagged") + " (@\(index))" }
            throw FathomError(
                .invalidInput,
                "the archive holds \(entries.count) images; choose one with docker-archive:FILE:REPO:TAG or :@N (\(names.joined(separator: ", ")))")
        }
        return entries[0]
    }

    private func resolveLegacy() throws -> ResolvedImage {
        let entry = try legacyEntry()
        guard let configBytes = try storage.read(entry.Config, limit: ByteLimits.document) else {
            throw FathomError(.notFound, "the archive has no config member '\(entry.Config)'")
        }
        let config = try ImageConfig.decode(configBytes)
        let configDigest = Digest.sha256(of: configBytes)
        guard config.rootfs.diffIDs.count == entry.Layers.count else {
            throw FathomError(
                .invalidManifest,
                "manifest.json lists \(entry.Layers.count) layers but the config lists \(config.rootfs.diffIDs.count) diff_ids")
        }
        let layers = try zip(entry.Layers, config.rootfs.diffIDs).map { member, diffID in
            guard let info = storage.members[TarEntry.normalize(member)] else {
                throw FathomError(.notFound, "the archive has no layer member '\(member)'", path: member)
            }
            // The member path names a blob digest in OCI-style archives; otherwise only the diffID is known.
            let digest = Self.blobDigest(member)
            let mediaType = digest.flatMap { entry.LayerSources?[$0.description]?.mediaType } ?? .dockerLayerTar
            return ImageLayer(mediaType: mediaType, digest: digest, size: info.size, diffID: diffID, sourcePath: member)
        }
        return ResolvedImage(
            name: displayName, manifestDigest: nil, manifestMediaType: nil, configDigest: configDigest, config: config,
            platform: config.platform, layers: layers, repoTags: entry.RepoTags ?? [])
    }

    static func blobDigest(_ member: String) -> Digest? {
        let parts = member.split(separator: "/")
        guard parts.count == 3, parts[0] == "blobs" else { return nil }
        return try? Digest(parsing: "\(parts[1]):\(parts[2])")
    }

    public func withLayer<Result>(
        _ layer: ImageLayer, _ body: (ByteStream) async throws -> Result
    ) async throws -> Result {
        // Resolution recorded the member for legacy layers; OCI-in-tar layers are named by digest.
        guard let member = layer.sourcePath ?? layer.digest.map(OCILayoutSource.blobPath) else {
            throw FathomError(.notFound, "the archive has no layer \(layer.diffID?.description ?? "?")", image: displayName)
        }
        return try await body(try storage.stream(member))
    }

    /// Decompresses the archive into a temporary file that is unlinked at once (the open
    /// descriptor keeps it alive, and nothing is left behind however the process ends).
    static func decompressed(_ file: ReadOnlyFile, _ compression: LayerCompression) throws -> ReadOnlyFile {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(directory)/fathom-archive-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FathomError(.io, "cannot create a temporary file in \(directory)") }
        let tempPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        unlink(tempPath)
        let decoder = try compression.makeDecoder()
        var offset: Int64 = 0
        do {
            while offset < file.size {
                let chunk = try file.read(at: offset, count: 1 << 20)
                offset += Int64(chunk.count)
                try chunk.withUnsafeBytes { input in
                    try decoder.decode(input) { output in
                        var written = 0
                        while written < output.count {
                            let result = write(fd, output.baseAddress! + written, output.count - written)
                            guard result > 0 else {
                                throw FathomError(.io, "cannot write the decompressed archive: \(String(cString: strerror(errno)))")
                            }
                            written += result
                        }
                    }
                }
            }
            try decoder.finish()
        } catch {
            close(fd)
            throw FathomError.wrapping(error).with(path: file.path)
        }
        return try ReadOnlyFile(adopting: fd, path: file.path)
    }
}
