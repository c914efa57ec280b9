public import FathomCore
import FathomAdvisory
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
        /// Images that inherit them.
        public var images: Int
        public var advice: String
    }

    /// The tag whose image is exactly this prefix; nil for a shared prefix nobody tagged.
    public var name: String?
    public var layers: Int
    public var topLayer: Digest
    /// Images built on it (it is a proper prefix of their layers).
    public var images: Int
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
        /// Names of images that are exactly this prefix (a few).
        var exact: [String] = []
        /// Whether such an image had packages no advisory data covered: its fewer findings
        /// prove nothing, so it is never recommended.
        var unchecked = false
    }

    private var nodes: [Digest: Node] = [:]
    /// Finding keys (`id package version severity`) by the layer that brought the package.
    private var layerFindings: [Digest: Set<String>] = [:]

    /// Adds an image's layers and its findings (`layer` is the finding's layer index).
    mutating func add(name: String, layers: [Digest], findings: [(key: String, layer: Int)], fullyChecked: Bool) {
        var parent: Digest?
        for (index, layer) in layers.enumerated() {
            var hasher = DigestHasher()
            hasher.update(Array(((parent?.description ?? "") + "/" + layer.description).utf8))
            let key = hasher.finalize()
            var node = nodes[key] ?? Node(parent: parent, layer: layer, depth: index + 1)
            if index < layers.count - 1 {
                node.descendants += 1
            } else {
                if node.exact.count < 3 && !node.exact.contains(name) { node.exact.append(name) }
                node.unchecked = node.unchecked || !fullyChecked
            }
            nodes[key] = node
            parent = key
        }
        for finding in findings where finding.layer < layers.count {
            layerFindings[layers[finding.layer], default: []].insert(finding.key)
        }
    }

    private func findings(of key: Digest) -> Set<String> {
        var all = Set<String>()
        var current: Digest? = key
        while let at = current, let node = nodes[at] {
            all.formUnion(layerFindings[node.layer] ?? [])
            current = node.parent
        }
        return all
    }

    /// The bases, most inherited findings first, at most `top`.
    func bases(top: Int) -> [FleetBase] {
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
            if !tagged, (children[key] ?? []).contains(where: { nodes[$0].map { $0.descendants + $0.exact.count } == node.descendants }) {
                continue
            }
            let own = findings(of: key)
            var bySeverity: [String: Int] = [:]
            for finding in own { bySeverity[String(finding.split(separator: " ").last ?? ""), default: 0] += 1 }
            let name = node.exact.sorted().first
            var base = FleetBase(
                name: name, layers: node.depth, topLayer: node.layer, images: node.descendants, findings: own.count, bySeverity: bySeverity)
            if let name, let (repository, tag) = Self.split(name) {
                var best: (name: String, removes: Int, tag: String)?
                for candidate in byRepository[repository] ?? []
                where candidate.key != key && Self.isNewer(candidate.tag, than: tag) && nodes[candidate.key]?.unchecked == false {
                    let theirs = findings(of: candidate.key)
                    guard theirs.count < own.count else { continue }
                    let removes = own.subtracting(theirs).count
                    if removes > 0, best == nil || removes > best!.removes || (removes == best!.removes && Self.isNewer(candidate.tag, than: best!.tag)) {
                        best = (candidate.name, removes, candidate.tag)
                    }
                }
                if let best {
                    base.rebuild = FleetBase.Rebuild(
                        on: best.name, removes: best.removes, images: node.descendants,
                        advice: "rebuild on \(best.name) (same registry) removes \(best.removes) finding\(best.removes == 1 ? "" : "s") "
                            + "from \(node.descendants) image\(node.descendants == 1 ? "" : "s")")
                }
            }
            bases.append(base)
        }
        return bases.sorted {
            ($0.findings * $0.images, $0.images, $1.label) > ($1.findings * $1.images, $1.images, $0.label)
        }.prefix(top).map { $0 }
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
