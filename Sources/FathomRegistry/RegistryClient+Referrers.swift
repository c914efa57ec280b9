public import FathomCore
public import FathomOCI
import Foundation
import NIOCore
import NIOHTTP1

extension RegistryClient {
    /// The artifacts attached to `subject` (a manifest digest) in `reference`'s repository, by
    /// the OCI 1.1 referrers API, else by its tag schema (an index tagged `sha256-HEX`), which any
    /// registry can hold; optionally only those of `artifactTypes`. None when neither is there.
    public func referrers(_ reference: ImageReference, subject: Digest, artifactTypes: Set<String> = []) async throws -> [Descriptor] {
        let listing: [UInt8]
        do {
            let response = try await send(
                .GET, registry: reference.apiHost, path: "/v2/\(reference.repository)/referrers/\(subject)",
                scope: Self.pullScope(reference.repository), headers: [("Accept", MediaType.ociIndex.rawValue)])
            listing = Array(try await collectBody(response, what: "referrers index").readableBytesView)
        } catch let error as FathomError where error.code == .notFound || error.code == .registry {
            // No referrers API here (404, or 400/405 from older registries): the tag schema.
            let tag = "\(subject.algorithm.rawValue)-\(subject.encoded)"
            do {
                listing = try await manifest(
                    ImageReference(registry: reference.registry, repository: reference.repository, tag: tag), accept: [.ociIndex]
                ).bytes
            } catch let error as FathomError where error.code == .notFound {
                return []
            }
        }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: Data(listing))
        } catch {
            throw FathomError(.invalidManifest, "the referrers of \(subject) are not an image index", image: reference.description, cause: error)
        }
        return index.manifests.filter { artifactTypes.isEmpty || artifactTypes.contains($0.artifactType ?? "") }
    }
}
