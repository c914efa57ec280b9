import FathomAdvisory
import FathomArchive
public import FathomCore
public import FathomOCI
public import FathomRegistry
public import FathomStore
public import Foundation

/// The store's advisory data as an OCI artifact in a registry: one machine with internet runs
/// `db update` and `db push`; workers and air-gapped sites `db pull` from the registry they
/// already scan, with the same client and credentials.
///
/// Layout: an OCI image manifest whose config (`configMediaType`) lists the sources, and one
/// layer per source (`layerMediaType`): that source's OSV records as a gzip'd JSON array in id
/// order, titled with the source's name; a severity source (NVD) has a `scoresMediaType` layer
/// of the same title instead or as well: its CVSS scores as a gzip'd JSON object by id; an
/// exploitation source (CISA KEV, EPSS) an `exploitationMediaType` layer: its facts by CVE id. Equal data gives equal bytes, so an unchanged source
/// keeps its blob (the registry stores it once) and an unchanged database its manifest digest.
public enum AdvisoryArtifact {
    public static let configMediaType = MediaType(rawValue: "application/vnd.fathom.advisory-db.config.v1+json")
    public static let layerMediaType = MediaType(rawValue: "application/vnd.fathom.advisories.v1.json+gzip")
    public static let scoresMediaType = MediaType(rawValue: "application/vnd.fathom.cvss-scores.v1.json+gzip")
    public static let exploitationMediaType = MediaType(rawValue: "application/vnd.fathom.exploitation.v1.json+gzip")
    static let titleAnnotation = "org.opencontainers.image.title"
    /// Expanded bytes accepted for one source (the largest upstream feeds are a few hundred MB).
    static let sourceLimit = 2 << 30

    public struct Summary: Sendable {
        public var manifestDigest: Digest
        /// Each source, and what it holds (`AdvisoryImportResult.describe`).
        public var sources: [(name: String, contents: String)]
        /// Sources a pull found already imported exactly so.
        public var unchanged: Set<String> = []
        /// When each pulled source was last updated in the store that pushed it.
        public var updated: [String: Date] = [:]
    }

    /// A blob of the artifact, checked against its digest and size.
    static func blob(_ reference: ImageReference, digest text: String, size: Int64, client: RegistryClient) async throws -> [UInt8] {
        let digest = try Digest(parsing: text)
        return try await client.withBlob(reference, digest: digest) { stream in
            var hasher = DigestHasher()
            var bytes: [UInt8] = []
            for try await chunk in stream {
                hasher.update(chunk)
                bytes += chunk
                guard Int64(bytes.count) <= size else { break }
            }
            guard Int64(bytes.count) == size, hasher.finalize() == digest else {
                throw FathomError(.digestMismatch, "the blob is not the \(size) bytes its digest names", layer: text)
            }
            return bytes
        }
    }

    /// Each source's `updated` date from the artifact's config (none in artifacts pushed before
    /// it was written).
    static func updatedDates(reference: ImageReference, config digest: String, size: Int64, client: RegistryClient) async throws -> [String: Date] {
        guard size <= 16 << 20 else { throw FathomError(.invalidManifest, "the config is \(size) bytes", image: reference.description) }
        let bytes = try await blob(reference, digest: digest, size: size, client: client)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw FathomError(.invalidManifest, "the config is not JSON", image: reference.description, cause: error)
        }
        guard let sources = (object as? [String: Any])?["sources"] as? [[String: Any]] else {
            throw FathomError(.invalidManifest, "the config lists no sources", image: reference.description)
        }
        var dates: [String: Date] = [:]
        for source in sources {
            guard let name = source["name"] as? String, let text = source["updated"] as? String else { continue }
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw FathomError(.invalidManifest, "source \(name)'s updated date '\(text)' is not an ISO 8601 time", image: reference.description)
            }
            dates[name] = date
        }
        return dates
    }

    /// Publishes every source in `store` under `reference` (a tag).
    public static func push(from store: any AdvisorySource, to reference: ImageReference, client: RegistryClient) async throws -> Summary {
        let feeds = try await store.advisoryFeeds()
        guard !feeds.isEmpty else { throw FathomError(.invalidInput, "the store holds no advisories to push") }
        var layers: [[String: Any]] = []
        var sources: [[String: Any]] = []
        var pushed: [(name: String, contents: String)] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for feed in feeds {
            let documents = try await store.advisoryDocuments(source: feed.source)
            let scores = try await store.scoreDocuments(source: feed.source)
            let exploitation = try await store.exploitationDocuments(source: feed.source)
            var entry: [String: Any] = ["name": feed.source, "records": documents.count]
            // How fresh the data is travels with it: a pulled feed is as old as the pushing
            // store's copy (its last check, else its import), not as new as the pull.
            if let updated = feed.lastUpdated { entry["updated"] = ISO8601DateFormatter().string(from: updated) }
            for (mediaType, json) in [
                (layerMediaType, documents.isEmpty && !(scores.isEmpty && exploitation.isEmpty) ? nil : "[" + documents.joined(separator: ",") + "]"),
                (scoresMediaType, scores.isEmpty ? nil : String(decoding: try encoder.encode(scores), as: UTF8.self)),
                (exploitationMediaType, exploitation.isEmpty ? nil : String(decoding: try encoder.encode(exploitation), as: UTF8.self)),
            ] {
                guard let json else { continue }
                let blob = try Gzip.compress(Array(json.utf8))
                let digest = try await client.uploadBlob(reference, blob)
                layers.append([
                    "mediaType": mediaType.rawValue, "digest": digest.description, "size": blob.count,
                    "annotations": [titleAnnotation: feed.source],
                ])
                entry[mediaType == layerMediaType ? "digest" : mediaType == scoresMediaType ? "scoresDigest" : "exploitationDigest"] =
                    digest.description
            }
            if !scores.isEmpty { entry["scored"] = scores.count }
            if !exploitation.isEmpty { entry["exploited"] = exploitation.count }
            sources.append(entry)
            pushed.append(
                (name: feed.source, contents: AdvisoryImportResult.describe(advisories: documents.count, scored: scores.count, exploited: exploitation.count)))
        }
        let config = try JSONSerialization.data(
            withJSONObject: ["schemaVersion": 1, "advisoryVersion": try await store.advisoryVersion(), "sources": sources],
            options: [.sortedKeys])
        let configDigest = try await client.uploadBlob(reference, Array(config))
        let manifest = try JSONSerialization.data(
            withJSONObject: [
                "schemaVersion": 2, "mediaType": MediaType.ociManifest.rawValue, "artifactType": configMediaType.rawValue,
                "config": ["mediaType": configMediaType.rawValue, "digest": configDigest.description, "size": config.count],
                "layers": layers,
            ] as [String: Any], options: [.sortedKeys])
        let manifestDigest = try await client.putManifest(reference, Array(manifest), mediaType: .ociManifest)
        return Summary(manifestDigest: manifestDigest, sources: pushed)
    }

    /// Imports every source of the artifact at `reference`; each source lands whole or not at all.
    public static func pull(
        into store: any AdvisorySource, from reference: ImageReference, client: RegistryClient, now: Date = Date()
    ) async throws -> Summary {
        let fetched = try await client.manifest(reference)
        struct Manifest: Decodable {
            struct Descriptor: Decodable {
                var mediaType: String
                var digest: String
                var size: Int64
                var annotations: [String: String]?
            }
            var config: Descriptor
            var layers: [Descriptor]
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(fetched.bytes))
        } catch {
            throw FathomError(.invalidManifest, "not an image manifest", image: reference.description, cause: error)
        }
        guard manifest.config.mediaType == configMediaType.rawValue else {
            throw FathomError(
                .invalidManifest, "not a fathom advisory database (its config is \(manifest.config.mediaType))", image: reference.description)
        }
        var summary = Summary(manifestDigest: fetched.digest, sources: [])
        let updated = try await Self.updatedDates(reference: reference, config: manifest.config.digest, size: manifest.config.size, client: client)
        // A source's advisories and scores may come as two layers; they import together.
        var order: [String] = []
        var parts: [String: (records: [OSVRecord], scores: [String: [CVSSScore]], exploitation: [String: Exploitation], digests: [String])] = [:]
        for layer in manifest.layers {
            guard [layerMediaType, scoresMediaType, exploitationMediaType].map(\.rawValue).contains(layer.mediaType),
                let name = layer.annotations?[titleAnnotation]
            else {
                throw FathomError(.invalidManifest, "layer \(layer.digest) is not a titled advisory source", image: reference.description)
            }
            let bytes = try await Self.blob(reference, digest: layer.digest, size: layer.size, client: client)
            if parts[name] == nil {
                order.append(name)
                parts[name] = ([], [:], [:], [])
            }
            do {
                let json = Data(try Gzip.decompress(bytes, limit: sourceLimit))
                if layer.mediaType == layerMediaType.rawValue {
                    parts[name]!.records += try JSONDecoder().decode([OSVRecord].self, from: json)
                } else if layer.mediaType == scoresMediaType.rawValue {
                    parts[name]!.scores.merge(try JSONDecoder().decode([String: [CVSSScore]].self, from: json)) { $0 + $1 }
                } else {
                    parts[name]!.exploitation.merge(try JSONDecoder().decode([String: Exploitation].self, from: json)) { $0.merging($1) }
                }
            } catch {
                throw FathomError(.invalidInput, "source \(name) cannot be read", layer: layer.digest, cause: error)
            }
            parts[name]!.digests.append(layer.digest)
        }
        for name in order {
            let part = parts[name]!
            let result = try await store.importAdvisories(part.records, scores: part.scores, exploitation: part.exploitation, source: name, now: now)
            try await store.recordFeedState(
                FeedState(
                    source: name, url: "oci://\(reference)", etag: part.digests.joined(separator: ","), lastModified: nil,
                    fetchedAt: updated[name].map { min($0, now) } ?? now))
            summary.sources.append((name: name, contents: result.contents))
            if let date = updated[name] { summary.updated[name] = date }
            if !result.changed { summary.unchanged.insert(name) }
        }
        return summary
    }
}
