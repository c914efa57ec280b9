/// What the fleet's views keep of one stored report, written with it: its findings, one row
/// summing the image up, the layer prefixes it is built of, the findings each of its layers
/// brings, and its distinct vulnerabilities. The fleet summary and the dashboard are answered
/// from these (bounded by distinct layers and vulnerabilities) instead of by decoding every
/// report, which took seconds at 10,000 images.
public struct ReportListing: Sendable {
    public var findings: [ReportFinding]
    public var image: ImageRow
    /// From the bottom layer up: each prefix of the image's layers.
    public var prefixes: [LayerPrefix]
    /// Finding keys (`id package version severity`) by the layer digest that brought them, for
    /// every layer of the image (an empty list for a layer that brought none).
    public var layerFindings: [String: [String]]
    /// The names of the packages each layer brought that this image still has: what its
    /// `layerFindings` speak for. A package upgraded or removed above a layer is not among its
    /// names, so a layer's stored findings for it stay (another image has them).
    public var layerPackages: [String: [String]]
    /// The depth (1 for the bottom layer) of the lowest layer that brought one of its findings,
    /// nil when it has none: the bases at or above that depth are the ones whose findings it
    /// carries.
    public var lowestFindingDepth: Int?
    /// Whether its report holds every finding of its packages (no policy left one out): only
    /// then do its layers' findings replace what other reports said of the same packages, and
    /// only then is its chain's `lowestFindingDepth` recorded. A report a policy filtered (a
    /// request's own, an ignore rule) only adds to a layer's findings.
    public var speaksForLayers = true
    /// Each vulnerability id of the report once.
    public var vulnerabilities: [FleetVulnerability]
    /// The names of its packages in lower case, once each, for the image search.
    public var packages: [String]

    public init(
        findings: [ReportFinding], image: ImageRow, prefixes: [LayerPrefix], layerFindings: [String: [String]], vulnerabilities: [FleetVulnerability],
        packages: [String], layerPackages: [String: [String]] = [:], lowestFindingDepth: Int? = nil
    ) {
        self.lowestFindingDepth = lowestFindingDepth
        self.findings = findings
        self.image = image
        self.prefixes = prefixes
        self.layerFindings = layerFindings
        self.layerPackages = layerPackages
        self.vulnerabilities = vulnerabilities
        self.packages = Array(Set(packages.map { $0.lowercased() }.filter { !$0.isEmpty && !$0.contains("\n") })).sorted()
    }

    /// A layer's stored findings once this listing is written: the listed ones, and those stored
    /// before for a package this image does not have from the layer (it upgraded or removed it
    /// above). A layer is immutable, so what one image's report says of the packages it still
    /// has from it holds for every image built on it; of the others it says nothing. Keys are
    /// `id package version severity`; the result is sorted by bytes. The PostgreSQL store does
    /// the same in its listing statement.
    public static func layerFindings(listed: [String], stored: [String], own: Set<String>) -> [String] {
        var merged = Set(listed)
        for key in stored where !key.isEmpty {
            let parts = key.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count > 1, !own.contains(String(parts[1])) { merged.insert(key) }
        }
        return merged.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Where its package names are kept: once per manifest (images of one manifest share
    /// them), else per name.
    public static func packagesKey(name: String, manifestDigest: String?) -> String { manifestDigest ?? "report:" + name }
}

/// A release's end of support as an image's row keeps it, beside its gaps (their running counts
/// count images per release): once the date has passed, its packages get no more security fixes
/// and its advisories may be incomplete, which a fleet view says with the images on it.
public enum FleetLifecycle {
    static let prefix = "end of support "

    /// The entry of an image whose report's policy left findings out (filters, ignore rules,
    /// VEX): the fleet's counts are of what the reports show, and says how many images that is.
    public static let policyLeftFindingsOut = "policy left findings out"

    /// The entry of a release (`Alpine Linux v3.7`) whose support ends or ended on `date` (YYYY-MM-DD).
    public static func entry(release: String, date: String) -> String { prefix + date + " " + release }

    /// The release and date of an entry; nil for a gap.
    public static func parse(_ entry: String) -> (release: String, date: String)? {
        guard entry.hasPrefix(prefix) else { return nil }
        let rest = entry.dropFirst(prefix.count)
        guard let space = rest.firstIndex(of: " "), rest.distance(from: rest.startIndex, to: space) == 10 else { return nil }
        return (String(rest[rest.index(after: space)...]), String(rest[..<space]))
    }
}

/// One image (a stored name) summed up, as the fleet lists it.
public struct ImageRow: Sendable, Hashable {
    public var name: String
    public var manifestDigest: String?
    public var os: String?
    /// Findings by severity word (`CRITICAL` … `UNKNOWN`).
    public var bySeverity: [String: Int]
    public var findings: Int
    public var fixable: Int
    public var new: Int
    public var resolved: Int
    /// Findings CISA lists as exploited.
    public var exploited: Int
    public var layers: Int
    /// Compressed bytes of its layers.
    public var bytes: Int64
    /// The prefix that is all of its layers (`LayerPrefix.key`); nil without layers.
    public var chain: String?
    /// Whether advisory data covered every package (its fewer findings prove something).
    public var fullyChecked: Bool
    /// What its packages had no advisory data for, once per gap, and its release's end of
    /// support (`FleetLifecycle`), which the fleet counts the same way.
    public var missing: [String]
    /// `missing` without its end of support and its policy's mark.
    public var gaps: [String] { missing.filter { FleetLifecycle.parse($0) == nil && $0 != FleetLifecycle.policyLeftFindingsOut } }
    /// The repository and tag its report is found by (a local source's path under the service's DIR).
    public var repository: String?
    public var tag: String?
    /// The advisory data version its findings were matched against (its newest scan's), where
    /// the listing read it: behind the store's when no rescan has reached the image.
    public var matchedAgainst: String?

    public init(
        name: String, manifestDigest: String?, os: String?, bySeverity: [String: Int], findings: Int, fixable: Int, new: Int, resolved: Int,
        exploited: Int, layers: Int, bytes: Int64, chain: String?, fullyChecked: Bool, missing: [String], repository: String? = nil, tag: String? = nil
    ) {
        self.repository = repository
        self.tag = tag
        self.name = name
        self.manifestDigest = manifestDigest
        self.os = os
        self.bySeverity = bySeverity
        self.findings = findings
        self.fixable = fixable
        self.new = new
        self.resolved = resolved
        self.exploited = exploited
        self.layers = layers
        self.bytes = bytes
        self.chain = chain
        self.fullyChecked = fullyChecked
        self.missing = missing.filter { !$0.isEmpty && !$0.contains("\n") }
    }

    /// The severity words the stores keep a column of, worst first (the order of "most at risk").
    public static let severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
}

/// A prefix of an image's layers: named by a digest of its parent's key and its top layer, so
/// that images built on the same layers share it.
public struct LayerPrefix: Sendable, Hashable {
    public var key: String
    public var parent: String?
    public var layer: String
    public var depth: Int
    /// The top layer's compressed size.
    public var size: Int64

    public init(key: String, parent: String?, layer: String, depth: Int, size: Int64) {
        self.key = key
        self.parent = parent
        self.layer = layer
        self.depth = depth
        self.size = size
    }
}

/// A vulnerability of the fleet: how many images carry it (kept as reports land), and what the
/// newest report that brought it says of it.
public struct FleetVulnerability: Sendable, Hashable {
    public var id: String
    public var severity: String
    /// Images carrying it; in a listing, 1.
    public var images: Int
    /// A few of its packages (the first three in byte order).
    public var packages: [String]
    /// CISA KEV's date added and ransomware use, when it is listed there.
    public var kevDateAdded: String?
    public var knownRansomware: Bool

    public init(id: String, severity: String, images: Int, packages: [String], kevDateAdded: String?, knownRansomware: Bool) {
        self.id = id
        self.severity = severity
        self.images = images
        self.packages = Array(Set(packages.filter { !$0.isEmpty && !$0.contains("\n") }).sorted().prefix(3))
        self.kevDateAdded = kevDateAdded
        self.knownRansomware = knownRansomware
    }

    /// The severity's rank for ordering (UNKNOWN lowest).
    public var rank: Int { ImageRow.severities.reversed().firstIndex(of: severity) ?? 0 }
}

/// What the fleet summary is made of, read from the rows `ReportListing` wrote.
public struct FleetView: Sendable {
    /// Images (names) with a report, and their sums.
    public var images = 0
    public var bySeverity: [String: Int] = [:]
    /// Layer uses (one per layer of each image) and their compressed bytes.
    public var layerUses = 0
    public var bytesReferenced: Int64 = 0
    public var imagesWithExploited = 0
    /// The worst images, at most `top`, worst first.
    public var mostAtRisk: [ImageRow] = []
    /// The most widespread vulnerabilities, at most `top`.
    public var widespread: [FleetVulnerability] = []
    /// Every vulnerability CISA lists as exploited, with the first `top` images carrying it.
    public var exploited: [(vulnerability: FleetVulnerability, images: [String])] = []
    /// Images per gap of advisory data, and per release's end of support (`FleetLifecycle`).
    public var missing: [String: Int] = [:]
    /// The prefixes of every image's layers (those of replaced reports may be among them).
    public var prefixes: [LayerPrefix] = []
    /// Per prefix that is all of some image's layers: the images that are exactly it.
    public var chains: [String: FleetChain] = [:]
    /// Finding keys by layer digest, for the layers of `prefixes`.
    public var layerFindings: [String: [String]] = [:]

    public init() {}
}

/// The images whose layers are all of one prefix (a layer chain), as the fleet's bases see them.
public struct FleetChain: Sendable, Hashable {
    public var images: Int
    /// The first three names, in byte order.
    public var names: [String]
    /// Whether one of them was not fully checked (its fewer findings prove nothing).
    public var unchecked: Bool
    /// The depth of the lowest layer that brought one of their findings (0: none; nil: not
    /// known, so every base below).
    public var lowestFindingDepth: Int?
    /// Their release's end of support (a `FleetLifecycle` entry), when fathom knows it: the
    /// images of a chain share their layers, so their release.
    public var lifecycle: String?

    public init(images: Int, names: [String], unchecked: Bool, lowestFindingDepth: Int?, lifecycle: String? = nil) {
        self.images = images
        self.names = names
        self.unchecked = unchecked
        self.lowestFindingDepth = lowestFindingDepth
        self.lifecycle = lifecycle
    }

    /// The lifecycle entry among a row's `missing` entries.
    public static func lifecycle(in missing: [String]) -> String? { missing.first { FleetLifecycle.parse($0) != nil } }
}

/// Which images `images(_:after:limit:)` lists.
public struct ImagesFilter: Sendable, Hashable {
    public var repository: String?
    /// A registry host: names under it; without a port, under that host at any port
    /// (`localhost` holds `localhost:5000/…`), as `registry(_:isWithin:)` decides.
    public var registry: String?
    /// Severity words: images with a finding of one of them.
    public var severities: [String]?
    /// In lower case: in the name, in a package's name, or (in any case) a finding's id or alias.
    public var query: String?

    public init(repository: String? = nil, registry: String? = nil, severities: [String]? = nil, query: String? = nil) {
        self.repository = repository
        self.registry = registry
        self.severities = severities
        self.query = query?.lowercased()
    }

    /// Whether a name's registry (`host[:port]`) is the one `wanted` names: the same, or, when
    /// `wanted` gives no port, the same host at any port. A user who types the host alone means
    /// it; matching nothing silently would be a clean answer that is wrong.
    public static func registry(_ registry: String, isWithin wanted: String) -> Bool {
        registry == wanted || (!wanted.contains(":") && registry.hasPrefix(wanted + ":") && registry.dropFirst(wanted.count + 1).first.map { ("0"..."9").contains($0) } == true)
    }
}

/// How one image's new listing moves the fleet's running totals (kept so that the summary
/// reads a few rows, not one per image): the difference between what its row held (nil when
/// it was not counted yet) and what it holds now.
public struct FleetTotalsChange: Sendable {
    /// Writers spread their sums over this many rows, by name, so that they seldom wait on
    /// each other's row.
    public static let shards = 16

    public var shard: Int
    public var images = 0
    /// By `ImageRow.severities`.
    public var bySeverity = [Int](repeating: 0, count: ImageRow.severities.count)
    public var layers = 0
    public var bytes: Int64 = 0
    public var exploitedImages = 0
    /// Images per gap, and per chain (images, and those not fully checked); no zeros.
    public var gaps: [String: Int] = [:]
    public var chains: [String: (images: Int, unchecked: Int)] = [:]
    /// The new image's chain and what its row is to record of `ReportListing.lowestFindingDepth`
    /// (0 for none). Recorded whether or not the image was fully checked: it says which findings
    /// the image carries, as the CLI's fleet counts them, not that it has no others.
    public var chainFindingDepth: (chain: String, depth: Int)?

    /// The move from `old` (what a name's counted row held) to `new` (its new row, or none
    /// when the image is removed from the fleet).
    public init(from old: ImageRow?, to new: ReportListing?) {
        self.init(from: old, to: new?.image)
        if let new, new.speaksForLayers, let chain = new.image.chain { chainFindingDepth = (chain, new.lowestFindingDepth ?? 0) }
    }

    /// The chain rows to write: each chain's move in images and in those not fully checked, and
    /// the lowest finding's depth to record (-1: leave it). The new image's chain is among them
    /// even when its counts do not move, for its depth.
    public var chainRows: [(chain: String, images: Int, unchecked: Int, lowestFindingDepth: Int)] {
        var rows = chains.mapValues { (images: $0.images, unchecked: $0.unchecked, lowestFindingDepth: -1) }
        if let (chain, depth) = chainFindingDepth { rows[chain, default: (0, 0, -1)].lowestFindingDepth = depth }
        return rows.map { ($0.key, $0.value.images, $0.value.unchecked, $0.value.lowestFindingDepth) }.sorted { $0.chain.utf8.lexicographicallyPrecedes($1.chain.utf8) }
    }

    /// The move from `old` to `new` in the sums alone.
    public init(from old: ImageRow?, to new: ImageRow?) {
        let name = new?.name ?? old?.name ?? ""
        shard = Int(name.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % UInt32(Self.shards))
        func add(_ row: ImageRow, _ sign: Int) {
            images += sign
            for (index, severity) in ImageRow.severities.enumerated() { bySeverity[index] += sign * (row.bySeverity[severity] ?? 0) }
            layers += sign * row.layers
            bytes += Int64(sign) * row.bytes
            exploitedImages += sign * (row.exploited > 0 ? 1 : 0)
            for gap in row.missing { gaps[gap, default: 0] += sign }
            if let chain = row.chain {
                let before = chains[chain] ?? (0, 0)
                chains[chain] = (before.images + sign, before.unchecked + (row.fullyChecked ? 0 : sign))
            }
        }
        if let old { add(old, -1) }
        if let new { add(new, 1) }
        gaps = gaps.filter { $0.value != 0 }
        chains = chains.filter { $0.value.images != 0 || $0.value.unchecked != 0 }
    }

    /// Whether the trend's sums (images, findings by severity) move.
    public var movesTrend: Bool { images != 0 || bySeverity.contains { $0 != 0 } }

    /// Whether the sums move at all (a rescan that found the same usually leaves them).
    public var isEmpty: Bool {
        images == 0 && bySeverity.allSatisfy { $0 == 0 } && layers == 0 && bytes == 0 && exploitedImages == 0 && gaps.isEmpty && chains.isEmpty
    }
}
