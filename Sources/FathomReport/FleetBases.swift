public import FathomCore
import FathomAdvisory
import FathomStore
import Foundation

/// Fleet remediation: most of a registry's findings come with the images' bases. A base is a
/// layer prefix several images share, named by the tag whose image is exactly that prefix when
/// the fleet has one. For each base: the findings its layers bring, how many images inherit
/// them, and, when the same repository holds a newer tag with fewer findings, what rebuilding
/// on it removes.
public struct FleetBase: Sendable, Codable, Hashable {
    public struct Rebuild: Sendable, Codable, Hashable {
        /// The image to rebuild on (a newer tag of the base's repository, in the same registry).
        public var on: String
        /// Findings of the base that image does not have.
        public var removes: Int
        /// Images built on the base that carry one or more of its findings (the base's `images`).
        public var images: Int
        /// When the image to rebuild on is itself past its end of support: the day it ended
        /// (YYYY-MM-DD). It is advised only when no newer tag that is still supported removes any.
        public var endOfSupport: String?
        public var advice: String
    }

    /// The tag whose image is exactly this prefix; nil for a shared prefix nobody tagged.
    public var name: String?
    public var layers: Int
    public var topLayer: Digest
    /// Images built on it (it is a proper prefix of their layers) that carry any of its
    /// findings: one that upgraded the package in its own layer does not. (From stored rows, by
    /// each chain's lowest finding; a chain listed before fathom kept that counts every image.)
    public var images: Int
    /// Images built on it, whatever they did with its findings.
    public var builtOn: Int
    public var findings: Int
    public var bySeverity: [String: Int]
    public var rebuild: Rebuild?

    /// How the table and the HTML report name it.
    public var label: String { name ?? "untagged base \(topLayer.short) (\(layers) layer\(layers == 1 ? "" : "s"))" }
}

/// What `FleetSummary` keeps to find the bases: one node per distinct layer prefix, and the
/// findings each distinct layer brings. Bounded by distinct layers, not by images.
struct FleetLineage: Sendable {
    struct Node: Sendable {
        var parent: Digest?
        var layer: Digest
        var depth: Int
        /// Images that have this prefix and more layers.
        var descendants = 0
        /// Of those, the images that carry a finding its layers brought.
        var inheriting = 0
        /// Names of images that are exactly this prefix (the first three in byte order), and how
        /// many there are.
        var exact: [String] = []
        var exactCount = 0
        /// Whether such an image had packages no advisory data covered: its fewer findings
        /// prove nothing, so it is never recommended.
        var unchecked = false
        /// Such images' release's end of support (a `FleetLifecycle` entry), when known.
        var lifecycle: String?
    }

    private var nodes: [Digest: Node] = [:]
    /// Stored prefixes whose digests could not be read (left out, and said so).
    private(set) var unreadable = 0
    /// Finding keys (`id package version severity`) by the layer that brought the package.
    private var layerFindings: [Digest: Set<String>] = [:]

    /// Adds an image's layers and its findings (`layer` is the finding's layer index).
    mutating func add(name: String, layers: [Digest], findings: [(key: String, layer: Int)], fullyChecked: Bool, lifecycle: String? = nil) {
        var parent: Digest?
        // The lowest layer that brought a finding of this image: the prefixes holding it pass
        // findings on to it; those below it brought none that it still has.
        let lowest = findings.map(\.layer).filter { $0 < layers.count }.min()
        for (index, layer) in layers.enumerated() {
            let key = Self.prefixKey(parent: parent, layer: layer)
            var node = nodes[key] ?? Node(parent: parent, layer: layer, depth: index + 1)
            if index < layers.count - 1 {
                node.descendants += 1
                if let lowest, lowest <= index { node.inheriting += 1 }
            } else {
                node.exactCount += 1
                if !node.exact.contains(name) { node.exact = Array((node.exact + [name]).sorted(by: Self.byteOrder).prefix(3)) }
                node.unchecked = node.unchecked || !fullyChecked
                // The first name's, as the stores take it (a chain's images share their release).
                if node.exact.first == name { node.lifecycle = lifecycle }
            }
            nodes[key] = node
            parent = key
        }
        for finding in findings where finding.layer < layers.count {
            layerFindings[layers[finding.layer], default: []].insert(finding.key)
        }
    }

    init() {}

    /// The lineage the stored rows describe: every prefix, the images that are exactly each, and
    /// the findings each layer brings. Prefixes no image has any more are left out.
    init(prefixes: [LayerPrefix], chains: [String: FleetChain], layerFindings: [String: [String]]) {
        var all: [Digest: Node] = [:]
        for prefix in prefixes {
            do {
                all[try Digest(parsing: prefix.key)] = Node(
                    parent: try prefix.parent.map { try Digest(parsing: $0) }, layer: try Digest(parsing: prefix.layer), depth: prefix.depth)
            } catch {
                unreadable += 1
            }
        }
        for (chain, exact) in chains {
            guard let key = try? Digest(parsing: chain), all[key] != nil else { continue }
            all[key]?.exactCount = exact.images
            all[key]?.exact = exact.names
            all[key]?.unchecked = exact.unchecked
            all[key]?.lifecycle = exact.lifecycle
            var current = all[key]?.parent
            while let at = current, let node = all[at] {
                all[at]?.descendants += exact.images
                // Its images carry the findings of the bases at or above their lowest finding's
                // layer (a chain listed before fathom recorded that: every base).
                if exact.lowestFindingDepth.map({ $0 > 0 && $0 <= node.depth }) ?? true { all[at]?.inheriting += exact.images }
                current = node.parent
            }
        }
        nodes = all.filter { $0.value.descendants + $0.value.exactCount > 0 }
        let used = Set(nodes.values.map(\.layer))
        for (layer, keys) in layerFindings {
            guard let digest = try? Digest(parsing: layer), used.contains(digest) else { continue }
            self.layerFindings[digest] = Set(keys)
        }
    }

    /// The distinct layers the images use, with a size each (from `sizes`, by layer).
    func layers(sizes: [Digest: Int64]) -> (count: Int, bytes: Int64) {
        let used = Set(nodes.values.map(\.layer))
        return (used.count, used.reduce(0) { $0 + (sizes[$1] ?? 0) })
    }

    /// A prefix's name: a digest of its parent's and its top layer's.
    static func prefixKey(parent: Digest?, layer: Digest) -> Digest {
        var hasher = DigestHasher()
        hasher.update(Array(((parent?.description ?? "") + "/" + layer.description).utf8))
        return hasher.finalize()
    }

    /// Names compare as the stores order them: by their bytes.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    private func findings(of key: Digest) -> Set<String> {
        var all = Set<String>()
        var current: Digest? = key
        while let at = current, let node = nodes[at] {
            all.formUnion(layerFindings[node.layer] ?? [])
            current = node.parent
        }
        return all
    }

    /// The bases, most inherited findings first, at most `top`; `today` (YYYY-MM-DD, UTC) decides
    /// which releases have reached their end of support.
    func bases(top: Int, today: String) -> [FleetBase] {
        var children: [Digest: [Digest]] = [:]
        for (key, node) in nodes { if let parent = node.parent { children[parent, default: []].append(key) } }
        // Images by repository, for the newer tags of a base's repository.
        var byRepository: [String: [(name: String, tag: String, key: Digest)]] = [:]
        for (key, node) in nodes {
            for name in node.exact {
                guard let (repository, tag) = Self.split(name) else { continue }
                byRepository[repository, default: []].append((name, tag, key))
            }
        }
        var bases: [FleetBase] = []
        for (key, node) in nodes where node.descendants > 0 {
            let tagged = !node.exact.isEmpty
            // An untagged prefix is a base where images part ways: not when one child carries them all.
            if !tagged && node.descendants < 2 { continue }
            if !tagged, (children[key] ?? []).contains(where: { nodes[$0].map { $0.descendants + $0.exactCount } == node.descendants }) {
                continue
            }
            let own = findings(of: key)
            var bySeverity: [String: Int] = [:]
            for finding in own { bySeverity[String(finding.split(separator: " ").last ?? ""), default: 0] += 1 }
            let name = node.exact.sorted().first
            let inheriting = node.inheriting
            var base = FleetBase(
                name: name, layers: node.depth, topLayer: node.layer, images: inheriting, builtOn: node.descendants, findings: own.count,
                bySeverity: bySeverity)
            if let name, let (repository, tag) = Self.split(name) {
                // A tag still supported first: advice to move onto a release that gets no more
                // fixes only trades today's findings for tomorrow's.
                var best: (name: String, removes: Int, tag: String, ended: (release: String, date: String)?)?
                func better(_ removes: Int, _ tag: String, _ ended: Bool) -> Bool {
                    guard let best else { return true }
                    if ended != (best.ended != nil) { return !ended }
                    return removes > best.removes || (removes == best.removes && Self.isNewer(tag, than: best.tag))
                }
                for candidate in byRepository[repository] ?? []
                where candidate.key != key && Self.isNewer(candidate.tag, than: tag) && nodes[candidate.key]?.unchecked == false {
                    let theirs = findings(of: candidate.key)
                    guard theirs.count < own.count else { continue }
                    // A finding the candidate still has at another version is not removed.
                    let removes = Set(own.map(Self.withoutVersion)).subtracting(theirs.map(Self.withoutVersion)).count
                    let ended = nodes[candidate.key]?.lifecycle.flatMap(FleetLifecycle.parse).flatMap { $0.date <= today ? $0 : nil }
                    if removes > 0, better(removes, candidate.tag, ended != nil) { best = (candidate.name, removes, candidate.tag, ended) }
                }
                if let best, inheriting > 0 {
                    // Not "from N images": an image that carries some of the base's findings
                    // loses only those (the images that carry any are the base's `images`).
                    var advice = "rebuild on \(best.name) removes \(best.removes) of this base's finding\(best.removes == 1 ? "" : "s")"
                    if let ended = best.ended {
                        let baseEnded = node.lifecycle.flatMap(FleetLifecycle.parse).map { $0.date <= today } ?? false
                        advice += ", but its release \(ended.release) ended \(ended.date)\(baseEnded ? " too" : ""), and no newer tag still supported removes any"
                    }
                    base.rebuild = FleetBase.Rebuild(on: best.name, removes: best.removes, images: inheriting, endOfSupport: best.ended?.date, advice: advice)
                }
            }
            bases.append(base)
        }
        return bases.sorted {
            ($0.findings * $0.images, $0.images, $1.label) > ($1.findings * $1.images, $1.images, $0.label)
        }.prefix(top).map { $0 }
    }

    /// A finding's key (`id package version severity`) without its version: the same
    /// vulnerability of the same package, at whatever version.
    static func withoutVersion(_ key: String) -> String {
        let parts = key.split(separator: " ", omittingEmptySubsequences: false)
        return parts.count >= 2 ? "\(parts[0]) \(parts[1])" : key
    }

    /// `host/repository:tag` → (`host/repository`, `tag`); nil without a tag.
    static func split(_ name: String) -> (String, String)? {
        guard !name.contains("@"), let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") else { return nil }
        return (String(name[..<colon]), String(name[name.index(after: colon)...]))
    }

    /// Tags compared by their numbers (`3.20` is newer than `3.7`), then as text; a tag without
    /// numbers (`latest`, `edge`) is never called newer or older than another.
    static func isNewer(_ tag: String, than other: String) -> Bool {
        func numbers(_ text: String) -> [Int] { text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } }
        let (left, right) = (numbers(tag), numbers(other))
        guard !left.isEmpty, !right.isEmpty else { return false }
        if left != right { return right.lexicographicallyPrecedes(left) }
        return tag > other
    }
}
