public import FathomAdvisory
public import FathomCore
import FathomOCI
public import FathomStore
import Foundation

/// What `fathom registry` prints at the end: counts, dedup, severity totals, the most
/// widespread vulnerabilities, the images most at risk, and every failure with its reason.
/// Memory stays bounded by distinct layers and advisories, not by images: only the worst
/// `top` images are kept.
public struct FleetSummary: Sendable, Encodable {
    public struct Images: Sendable, Codable {
        public var scanned = 0
        /// Of those scanned, the images whose manifest was read before (no layer merged again);
        /// nil where no image was read (the service's view of stored reports).
        public var known: Int?
        public var skipped = 0
        public var failed = 0
    }

    public struct Layers: Sendable, Codable {
        /// Distinct layers the scanned images use.
        public var distinct = 0
        /// Layers read from their blobs in this run; nil in the service's view of stored
        /// reports, which is of no run (a 0 there read as "every layer came from the cache").
        public var fetched: Int? = 0
        /// Layer uses answered from the store or from a read shared with another image.
        public var reused = 0
    }

    public struct Bytes: Sendable, Codable {
        /// Compressed bytes read from blobs in this run; nil in the service's view.
        public var fetched: Int64? = 0
        /// Compressed bytes the scanned images reference, counting shared layers once per image.
        public var referenced: Int64 = 0
        /// Compressed bytes of the distinct layers.
        public var distinct: Int64 = 0
        /// referenced / fetched: how many bytes each fetched byte stood for.
        public var dedupRatio: Double?
    }

    public struct ImageLine: Sendable, Codable {
        public var name: String
        public var manifestDigest: Digest?
        public var findings: Int
        public var bySeverity: [String: Int]
        public var fixable: Int
        public var new: Int
        public var resolved: Int
    }

    public struct Widespread: Sendable, Codable {
        public var id: String
        public var severity: Severity
        public var images: Int
        public var packages: [String]
    }

    /// A vulnerability CISA lists as exploited in the wild, and the images that carry it.
    public struct Exploited: Sendable, Codable {
        public var id: String
        public var severity: Severity
        public var dateAdded: String
        public var knownRansomware: Bool
        public var packages: [String]
        public var images: [String]
        /// Images beyond those named.
        public var moreImages: Int
    }

    public struct PolicyFailure: Sendable, Codable {
        public var name: String
        /// `fail` (a finding survives the policy) or `no-verdict` (missing advisory data).
        public var kind: ScanVerdict.Kind
        public var reason: String
    }

    public struct Failure: Sendable, Codable {
        public var name: String
        public var reason: String
    }

    public var source: String
    public var advisoryVersion: String
    public var images = Images()
    public var layers = Layers()
    public var bytes = Bytes()
    public var findings: [String: Int] = [:]
    public var mostWidespread: [Widespread] = []
    public var mostAtRisk: [ImageLine] = []
    public var failures: [Failure] = []
    public var skipped: [Failure] = []
    /// Namespaces the fleet's images held packages for with no advisory data: how many images.
    public var missingData: [String: Int] = [:]
    /// Releases past their end of support, with the images on each, the most images first.
    public var endOfSupport: [EndOfSupport] = []
    /// About the run as a whole (stale advisory data).
    public var warnings: [String] = []
    /// The bases the fleet's images share, the findings they bring and how to be rid of them.
    public var bases: [FleetBase] = []
    public var elapsedSeconds = 0.0
    /// Images `--exit-code` fails: a finding survives the policy, or no verdict could be given.
    public var policyFailures: [PolicyFailure] = []
    /// "Exploited in the wild": the KEV findings of the fleet, newest KEV entry first, each with
    /// the images that carry it (at most `top` named), and how many images carry any.
    public var exploitedInTheWild: [Exploited] = []
    public var imagesWithExploited = 0

    let top: Int
    private var distinctLayers: Set<Digest> = []
    private var vulnerabilityImages: [String: (Severity, Int, Set<String>)] = [:]
    private var lineage = FleetLineage()
    private var exploited: [String: Exploited] = [:]

    enum CodingKeys: String, CodingKey {
        case source, advisoryVersion, images, layers, bytes, findings, mostWidespread, mostAtRisk, failures, skipped, elapsedSeconds
        case missingData, endOfSupport, warnings, bases, policyFailures, exploitedInTheWild, imagesWithExploited
    }

    public struct EndOfSupport: Sendable, Codable, Hashable {
        public var release: String
        /// YYYY-MM-DD.
        public var ended: String
        public var images: Int
    }

    /// Images per release with a known end of support (`FleetLifecycle` entries), past or not:
    /// which have passed is decided when the summary is finished.
    private var lifecycle: [String: Int] = [:]

    public init(source: String, advisoryVersion: String, top: Int = 10) {
        self.source = source
        self.advisoryVersion = advisoryVersion
        self.top = top
        for severity in Severity.allCases { findings[severity.rawValue] = 0 }
    }

    /// Adds an image a filter left out (`--pushed-since`…), with the reason.
    public mutating func add(skipped name: String, reason: String) {
        images.skipped += 1
        if skipped.count < top { skipped.append(Failure(name: name, reason: reason)) }
    }

    /// Adds an image that failed, with the error.
    public mutating func add(failed name: String, reason: String) {
        images.failed += 1
        failures.append(Failure(name: name, reason: reason))
    }

    /// Adds an image by its report: a run's, or a stored one (the service's fleet view, where
    /// nothing was read: `read` is nil and every layer counts as reused).
    public mutating func add(report: ScanReport, name: String, read: ScanResult.Read? = nil) {
        images.scanned += 1
        for layer in report.layers {
            bytes.referenced += layer.size
            if distinctLayers.insert(layer.digest).inserted { bytes.distinct += layer.size }
        }
        layers.distinct = distinctLayers.count
        if let read {
            images.known = (images.known ?? 0) + (read.known ? 1 : 0)
            layers.fetched = (layers.fetched ?? 0) + read.layers
            layers.reused += report.layers.count - read.layers
            bytes.fetched = (bytes.fetched ?? 0) + read.bytes
        } else {
            layers.reused += report.layers.count
        }
        var counts: [String: Int] = [:]
        var seen = Set<String>()
        for vulnerability in report.vulnerabilities {
            counts[vulnerability.severity.rawValue, default: 0] += 1
            findings[vulnerability.severity.rawValue, default: 0] += 1
            guard seen.insert(vulnerability.id).inserted else { continue }
            var entry = vulnerabilityImages[vulnerability.id] ?? (vulnerability.severity, 0, [])
            entry.1 += 1
            vulnerabilityImages[vulnerability.id] = entry
        }
        // A few packages per id: the first three in byte order, as the service's rows keep them.
        for vulnerability in report.vulnerabilities {
            guard var entry = vulnerabilityImages[vulnerability.id], !entry.2.contains(vulnerability.package) else { continue }
            entry.2.insert(vulnerability.package)
            if entry.2.count > 3, let last = entry.2.max(by: FleetLineage.byteOrder) { entry.2.remove(last) }
            vulnerabilityImages[vulnerability.id] = entry
        }
        var carriesExploited = false
        var exploitedHere = Set<String>()
        for vulnerability in report.vulnerabilities {
            guard let kev = vulnerability.kev else { continue }
            carriesExploited = true
            var entry = exploited[vulnerability.id] ?? Exploited(
                id: vulnerability.id, severity: vulnerability.severity, dateAdded: kev.dateAdded, knownRansomware: kev.knownRansomware,
                packages: [], images: [], moreImages: 0)
            if !entry.packages.contains(vulnerability.package) {
                entry.packages = Array((entry.packages + [vulnerability.package]).sorted(by: FleetLineage.byteOrder).prefix(3))
            }
            // The first `top` names in byte order, and how many more (each image once, though
            // it carries the id in several packages).
            if exploitedHere.insert(vulnerability.id).inserted {
                entry.images = (entry.images + [name]).sorted(by: FleetLineage.byteOrder)
                if entry.images.count > top {
                    entry.images.removeLast()
                    entry.moreImages += 1
                }
            }
            exploited[vulnerability.id] = entry
        }
        if carriesExploited { imagesWithExploited += 1 }
        for gap in report.fleetGaps { missingData[gap, default: 0] += 1 }
        if let entry = report.lifecycleEntry { lifecycle[entry, default: 0] += 1 }
        lineage.add(
            name: name, layers: report.layers.map(\.digest), findings: report.layeredFindings, fullyChecked: report.fullyChecked,
            lifecycle: report.lifecycleEntry)
        mostAtRisk.append(
            ImageLine(
                name: name, manifestDigest: report.artifact.manifestDigest, findings: report.vulnerabilities.count, bySeverity: counts,
                fixable: report.vulnerabilities.filter { $0.fixedVersion != nil }.count, new: report.changes?.new.count ?? 0,
                resolved: report.changes?.resolved.count ?? 0))
        if mostAtRisk.count > 2 * top { trimImages() }
    }

    /// The summary of the stored fleet, from the rows kept as its reports were stored (the
    /// service's fleet view): the same parts `add(report:name:)` makes of every report, read
    /// without decoding one. Every layer counts as reused: nothing was read.
    public init(view: FleetView, source: String, advisoryVersion: String, top: Int) {
        self.init(source: source, advisoryVersion: advisoryVersion, top: top)
        images.scanned = view.images
        for (severity, count) in view.bySeverity { findings[severity] = count }
        layers.reused = view.layerUses
        bytes.referenced = view.bytesReferenced
        (layers.fetched, bytes.fetched) = (nil, nil)
        lineage = FleetLineage(prefixes: view.prefixes, chains: view.chains, layerFindings: view.layerFindings)
        if lineage.unreadable > 0 {
            warnings.append("\(lineage.unreadable) stored layer prefix\(lineage.unreadable == 1 ? "" : "es") could not be read: the bases and distinct layers leave them out")
        }
        var sizes: [Digest: Int64] = [:]
        for prefix in view.prefixes { if let layer = try? Digest(parsing: prefix.layer) { sizes[layer] = prefix.size } }
        (layers.distinct, bytes.distinct) = lineage.layers(sizes: sizes)
        mostAtRisk = view.mostAtRisk.map { row in
            ImageLine(
                name: row.name, manifestDigest: row.manifestDigest.flatMap { try? Digest(parsing: $0) }, findings: row.findings,
                bySeverity: row.bySeverity, fixable: row.fixable, new: row.new, resolved: row.resolved)
        }
        for entry in view.widespread {
            vulnerabilityImages[entry.id] = (Severity(rawValue: entry.severity) ?? .unknown, entry.images, Set(entry.packages))
        }
        for (entry, names) in view.exploited {
            exploited[entry.id] = Exploited(
                id: entry.id, severity: Severity(rawValue: entry.severity) ?? .unknown, dateAdded: entry.kevDateAdded ?? "",
                knownRansomware: entry.knownRansomware, packages: entry.packages, images: names, moreImages: max(0, entry.images - names.count))
        }
        imagesWithExploited = view.imagesWithExploited
        for (entry, images) in view.missing {
            if FleetLifecycle.parse(entry) != nil {
                lifecycle[entry, default: 0] += images
            } else if entry == FleetLifecycle.policyLeftFindingsOut {
                warnings.append(
                    "\(images) image\(images == 1 ? "'s report leaves" : "s' reports leave") findings out by policy (a request's own, the service's filters, "
                        + "ignore rules or VEX): the counts and bases are of what the reports show")
            } else {
                missingData[entry] = images
            }
        }
    }

    /// What was not checked, one line per gap, the most images first: "no advisory data for
    /// Debian:13 (3 images)".
    public var notChecked: [String] { Self.notChecked(missingData) }

    /// The tables' "Not checked" section, or nothing when every package was checked.
    static func notCheckedSection(_ missingData: [String: Int]) -> String {
        missingData.isEmpty ? "" : "\nNot checked\n" + notChecked(missingData).map { "  \($0)\n" }.joined()
    }

    static func notChecked(_ missingData: [String: Int]) -> [String] {
        missingData.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }).map { gap, count in
            "\(Self.describe(gap: gap)) (\(count) image\(count == 1 ? "" : "s"))"
        }
    }

    /// A gap as said: a namespace is one fathom holds no advisory data for; the other gaps
    /// (an OS not identified, its package database not found, no data at all, a namespace with
    /// why its packages were not checked) say themselves.
    public static func describe(gap: String) -> String {
        let phrases: Set<String> = [Coverage.osNotIdentified, "no advisory data loaded", "the stored report cannot be read", Coverage.nothingFound]
        let reasons = Coverage.Gap.Reason.allCases.filter { $0 != .noAdvisories }.map { ": \($0.phrase)" }
        if phrases.contains(gap) || gap.hasSuffix(Coverage.noPackageDatabase("")) || reasons.contains(where: gap.hasSuffix) { return gap }
        return "no advisory data for \(gap)"
    }

    /// Records what `--exit-code` made of an image: those that fail it are named.
    public mutating func judge(_ name: String, _ verdict: ScanVerdict) {
        switch verdict.kind {
        case .fail: policyFailures.append(PolicyFailure(name: name, kind: .fail, reason: "\(verdict.findings) finding\(verdict.findings == 1 ? "" : "s") survive the policy"))
        case .noVerdict: policyFailures.append(PolicyFailure(name: name, kind: .noVerdict, reason: "no verdict: \(verdict.gaps.joined(separator: "; "))"))
        case .pass, .notAsked: break
        }
    }

    /// Adds a job the service gave up on (dead after its last attempt) as a failed image.
    public mutating func add(deadJob name: String, error: String?) {
        images.failed += 1
        failures.append(Failure(name: name, reason: error ?? "the job died without an error"))
    }

    static func key(_ id: String, _ package: String, _ version: String, _ severity: Severity) -> String {
        "\(id) \(package) \(version) \(severity.rawValue)"
    }

    /// Fills the derived parts; call once at the end.
    public mutating func finish(elapsed: Duration) {
        trimImages()
        let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        endOfSupport = lifecycle.compactMap { entry, images in
            guard let (release, date) = FleetLifecycle.parse(entry), date <= today else { return nil }
            return EndOfSupport(release: release, ended: date, images: images)
        }.sorted { ($1.images, $0.release, $0.ended) < ($0.images, $1.release, $1.ended) }
        bases = lineage.bases(top: top, today: today)
        elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bytes.dedupRatio = bytes.fetched.flatMap { $0 > 0 ? Double(bytes.referenced) / Double($0) : nil }
        exploitedInTheWild = exploited.values.sorted { ($1.dateAdded, $0.id) < ($0.dateAdded, $1.id) }
        mostWidespread = vulnerabilityImages.map { id, entry in
            Widespread(id: id, severity: entry.0, images: entry.1, packages: entry.2.sorted())
        }.sorted { ($1.images, $1.severity, $0.id) < ($0.images, $0.severity, $1.id) }.prefix(top).map { $0 }
    }

    /// The images most at risk that have a finding: an image with none is at no risk to list
    /// (it stays in `mostAtRisk`, whose new and resolved counts say what changed).
    public var atRisk: [ImageLine] { mostAtRisk.filter { $0.findings > 0 } }

    private mutating func trimImages() {
        func risk(_ line: ImageLine) -> [Int] {
            Severity.allCases.reversed().map { line.bySeverity[$0.rawValue] ?? 0 }
        }
        mostAtRisk = mostAtRisk.sorted { a, b in
            let (riskA, riskB) = (risk(a), risk(b))
            return riskA != riskB ? riskB.lexicographicallyPrecedes(riskA) : a.name < b.name
        }.prefix(top).map { $0 }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func table() -> String {
        var output = "Fleet: \(source)\n"
        output += "Images: \(images.scanned) scanned\((images.known ?? 0) > 0 ? " (\(images.known ?? 0) known before)" : ""), \(images.failed) failed, "
            + "\(images.skipped) skipped in \(String(format: "%.1f", elapsedSeconds)) s\n"
        if let fetched = layers.fetched {
            output += "Layers: \(layers.distinct) distinct, \(fetched) fetched, \(layers.reused) reused\n"
        } else {
            output += "Layers: \(layers.distinct) distinct, \(layers.reused) uses\n"
        }
        output += bytes.fetched.map { "Bytes:  \(ScanReport.bytes($0)) fetched of " } ?? "Bytes:  "
        output += "\(ScanReport.bytes(bytes.referenced)) referenced"
        output += " (\(ScanReport.bytes(bytes.distinct)) distinct)"
        if let ratio = bytes.dedupRatio { output += ", dedup \(String(format: "%.1f", ratio))x" }
        output += "\n"
        let counts = Severity.allCases.reversed().map { "\($0.rawValue): \(findings[$0.rawValue] ?? 0)" }
        output += "Findings: \(findings.values.reduce(0, +)) (\(counts.joined(separator: ", ")))\n"
        if !exploitedInTheWild.isEmpty {
            output += "\nExploited in the wild (CISA KEV): \(imagesWithExploited) image\(imagesWithExploited == 1 ? "" : "s")\n"
            var table = TextTable(headers: ["ID", "SEVERITY", "IN KEV SINCE", "RANSOMWARE", "PACKAGES", "IMAGES"])
            for entry in exploitedInTheWild {
                table.append([
                    entry.id, entry.severity.rawValue, entry.dateAdded, entry.knownRansomware ? "known" : "-", entry.packages.joined(separator: ","),
                    entry.images.joined(separator: ", ") + (entry.moreImages > 0 ? " and \(entry.moreImages) more" : ""),
                ])
            }
            output += table.render()
        }
        if !mostWidespread.isEmpty {
            output += "\nMost widespread vulnerabilities\n"
            var table = TextTable(headers: ["ID", "SEVERITY", "IMAGES", "PACKAGES"])
            for entry in mostWidespread {
                table.append([entry.id, entry.severity.rawValue, "\(entry.images)", entry.packages.joined(separator: ",")])
            }
            output += table.render()
        }
        if !atRisk.isEmpty {
            output += "\nImages most at risk\n"
            var table = TextTable(headers: ["IMAGE", "CRITICAL", "HIGH", "MEDIUM", "LOW", "TOTAL", "FIXABLE", "NEW", "RESOLVED"])
            for line in atRisk {
                table.append(
                    [line.name] + ["CRITICAL", "HIGH", "MEDIUM", "LOW"].map { "\(line.bySeverity[$0] ?? 0)" }
                        + ["\(line.findings)", "\(line.fixable)", "\(line.new)", "\(line.resolved)"])
            }
            output += table.render()
        }
        if !bases.isEmpty {
            output += "\nBases (findings their layers bring, and the images that inherit them)\n"
            var table = TextTable(headers: ["BASE", "IMAGES", "FINDINGS", "CRITICAL", "HIGH", "FIX"])
            for base in bases {
                table.append(
                    [base.label, "\(base.images)", "\(base.findings)", "\(base.bySeverity["CRITICAL"] ?? 0)", "\(base.bySeverity["HIGH"] ?? 0)",
                     base.rebuild?.advice ?? "-"])
            }
            output += table.render()
        }
        output += Self.notCheckedSection(missingData)
        if !endOfSupport.isEmpty {
            output += "\nPast end of support (no more security fixes; advisories may be incomplete)\n"
            for entry in endOfSupport { output += "  \(entry.line)\n" }
        }
        for warning in warnings { output += "\nwarning: \(warning)\n" }
        if !failures.isEmpty {
            output += "\nFailed (\(failures.count))\n"
            for failure in failures { output += "  \(failure.name): \(failure.reason)\n" }
        }
        if !policyFailures.isEmpty {
            output += "\nFailing the policy (\(policyFailures.count))\n"
            for failure in policyFailures.prefix(100) { output += "  \(failure.name): \(failure.reason)\n" }
            if policyFailures.count > 100 { output += "  … and \(policyFailures.count - 100) more\n" }
        }
        if !skipped.isEmpty {
            output += "\nSkipped (\(images.skipped))\n"
            for entry in skipped { output += "  \(entry.name): \(entry.reason)\n" }
            if images.skipped > skipped.count { output += "  … and \(images.skipped - skipped.count) more\n" }
        }
        return output
    }
}

extension FleetSummary.EndOfSupport {
    /// "Alpine:v3.7 ended 2019-11-01 (4 images)".
    public var line: String { "\(release) ended \(ended) (\(images) image\(images == 1 ? "" : "s"))" }
}
