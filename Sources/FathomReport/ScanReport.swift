public import FathomCore
public import FathomAdvisory
public import FathomInventory
import FathomArchive
public import FathomOCI
public import FathomStore
import Foundation

/// The JSON document `fathom scan --format json` prints: one stable shape, versioned by
/// `schemaVersion`, with the keys `artifact`, `os`, `layers`, `packages`, `vulnerabilities`.
public struct ScanReport: Sendable, Codable {
    public struct Artifact: Sendable, Codable {
        public var name: String
        public var repoTags: [String]
        public var indexDigest: Digest?
        public var manifestDigest: Digest?
        public var mediaType: MediaType?
        public var configDigest: Digest
        public var platform: String?
        public var created: String?
    }

    public struct OS: Sendable, Codable {
        public var id: String
        public var versionID: String?
        public var prettyName: String?
        public var namespace: String?
        public var source: String
        /// When the release stops (or stopped) getting security fixes, if known.
        public var endOfSupport: String?
    }

    public struct Layer: Sendable, Codable {
        public var index: Int
        public var digest: Digest
        public var diffID: Digest?
        public var mediaType: MediaType
        public var compression: LayerCompression
        public var size: Int64
        public var uncompressedSize: Int64
        /// Tar entries of every kind.
        public var entries: Int
        /// Regular files.
        public var files: Int
        public var createdBy: String?
    }

    /// An installed package.
    public struct Package: Sendable, Codable {
        public typealias Source = FathomInventory.Package.Source
        public var ecosystem: String
        public var name: String
        public var version: String
        public var arch: String?
        public var source: Source?
        public var path: String
        /// The digest of the layer that introduced this version of the package.
        public var layer: Digest
        /// That layer's uncompressed digest (its diff ID): the same whatever the image was read
        /// from (a registry or an OCI layout's compressed blob, a `docker save` tar's), as Grype's
        /// layer id and Trivy's `DiffID` are. Absent where the layer has none (an SBOM).
        public var layerDiffID: Digest?
        public var modularityLabel: String?
    }

    /// A finding as the JSON document shows it. Kept apart from `Finding` on purpose: the
    /// document is a stable public format (`schemaVersion`), it names the layer by digest where
    /// matching holds an index into the image's layers, and it always writes `fixedVersion`.
    public struct Vulnerability: Sendable, Codable {
        public var id: String
        public var aliases: [String]
        public var ecosystem: String
        public var package: String
        public var installedVersion: String
        public var fixedVersion: String?
        public var status: Finding.Status
        /// The vendor's own words for the status (`no-dsa: postponed`), when the feed gives them.
        public var vendorStatus: String?
        public var severity: Severity
        /// The feed the severity came from: the advisory's own, or the source of the CVSS score
        /// it fell back to (`nvd`…); absent when no source rates it.
        public var severitySource: String?
        /// Every CVSS score known for the vulnerability: `{source, version, vector, score}`.
        public var cvss: [CVSSScore]
        /// The digest of the layer that introduced the package.
        public var layer: Digest
        /// That layer's uncompressed digest (its diff ID), as a package's.
        public var layerDiffID: Digest?
        public var path: String
        public var source: String
        public var title: String?
        public var references: [String]
        /// CISA's Known Exploited Vulnerabilities entry, when it lists the vulnerability.
        public var kev: KEVEntry?
        /// FIRST's EPSS score, when known.
        public var epss: EPSSScore?
        /// The `group:artifact` a Java archive that names no group was matched as (the one group
        /// the advisories name its artifact with): an inference, not the archive's own name.
        public var matchedAs: String?

        /// The other names of what it is about, for a reader: a notice's CVEs (`USN-6409-1`:
        /// CVE-2023-4527, CVE-2023-4911), a GHSA's CVE and PYSEC id. A distribution's record of
        /// the finding's own CVE or advisory (`ALPINE-v3.7-musl-CVE-2019-14697`,
        /// `UBUNTU-CVE-2023-4911` beside `CVE-2023-4911`) says nothing more and is left out.
        public var otherNames: [String] {
            var seen: Set<String> = [id]
            return aliases.compactMap { alias in
                let name = ImageMatcher.cveNamed(alias) ?? alias
                guard !alias.hasSuffix("-" + id), seen.insert(name).inserted else { return nil }
                return name
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, aliases, ecosystem, package, installedVersion, fixedVersion, status, vendorStatus, severity, severitySource, cvss, layer, layerDiffID, path
            case source
            case title, references, kev, epss, matchedAs
        }

        // `fixedVersion` is always present: a version, or null when there is no fix.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(aliases, forKey: .aliases)
            try container.encode(ecosystem, forKey: .ecosystem)
            try container.encode(package, forKey: .package)
            try container.encode(installedVersion, forKey: .installedVersion)
            try container.encode(fixedVersion, forKey: .fixedVersion)
            try container.encode(status, forKey: .status)
            try container.encodeIfPresent(vendorStatus, forKey: .vendorStatus)
            try container.encode(severity, forKey: .severity)
            try container.encodeIfPresent(severitySource, forKey: .severitySource)
            try container.encode(cvss, forKey: .cvss)
            try container.encode(layer, forKey: .layer)
            try container.encodeIfPresent(layerDiffID, forKey: .layerDiffID)
            try container.encode(path, forKey: .path)
            try container.encode(source, forKey: .source)
            try container.encodeIfPresent(title, forKey: .title)
            try container.encode(references, forKey: .references)
            try container.encodeIfPresent(kev, forKey: .kev)
            try container.encodeIfPresent(epss, forKey: .epss)
            try container.encodeIfPresent(matchedAs, forKey: .matchedAs)
        }
    }

    /// Counts per severity of the reported findings.
    public struct Summary: Sendable, Codable {
        public var total: Int
        public var bySeverity: [String: Int]
        public var fixable: Int
        /// Whether advisory data was available (false: no `fathom db import` yet).
        public var advisoriesLoaded: Bool
        /// What the policy's filters (`--severity`, `--ignore-unfixed`, `--ignore-status`…) left
        /// out of `vulnerabilities`, when they left anything.
        public var filtered: ScanPolicy.Filtered?
    }

    public var schemaVersion: Int
    public var artifact: Artifact
    public var os: OS?
    public var layers: [Layer]
    public var packages: [Package]
    public var vulnerabilities: [Vulnerability]
    public var remediation: [Remediation]
    public var suppressed: [ScanPolicy.Suppressed]
    /// Findings in packages that hold a kernel, which a container does not run: listed apart and
    /// left out of the summary and the verdict (absent with `--include-kernel`, or when none).
    public var kernel: [Vulnerability]?
    public var summary: Summary
    /// What changed since the previous scan of the same name (absent on a first scan).
    public var changes: ScanChanges?
    /// The advisory namespaces the packages were checked against, and those with no data.
    public var coverage: Coverage?
    public var warnings: [String]
    /// The policy the scan request gave (`POST /v1/scans`), kept so that rescans apply it too.
    public var requestPolicy: RequestPolicy?
    /// The warnings reading the image gave (layers, files): kept apart so that a re-match can
    /// say `warnings` anew (coverage, end of life, the filters) without losing them.
    public var readWarnings: [String]?

    /// What reading an image found, as a report needs it (the engine hands it over).
    public struct ReadImage: Sendable {
        public struct Layer: Sendable {
            public var layer: ImageLayer
            public var facts: LayerFacts
            /// The `created_by` of the history entry that made this layer.
            public var createdBy: String?

            public init(layer: ImageLayer, facts: LayerFacts, createdBy: String?) {
                self.layer = layer
                self.facts = facts
                self.createdBy = createdBy
            }
        }

        public var image: ResolvedImage
        public var layers: [Layer]
        public var os: OSRelease?
        /// Installed packages, each with the index of the layer that introduced it.
        public var packages: [InventoryEntry]
        /// What merging the layers' file systems warned of.
        public var filesystemWarnings: [String]

        public init(image: ResolvedImage, layers: [Layer], os: OSRelease?, packages: [InventoryEntry], filesystemWarnings: [String]) {
            self.image = image
            self.layers = layers
            self.os = os
            self.packages = packages
            self.filesystemWarnings = filesystemWarnings
        }
    }

    /// Only the scan engine (`ScanSession`, FathomEngine) makes reports, so that every front
    /// door's report is the same (`scripts/check-architecture` holds to it).
    package init(_ result: ReadImage, advisoriesLoaded: Bool) {
        changes = nil
        coverage = nil
        let image = result.image
        schemaVersion = 3  // 2: `cvss` is a list of every source's scores (was one v3 score), `severitySource` added; 3: vendor statuses (`affected` was `not-fixed`, `will_not_fix` was `will-not-fix`), `vendorStatus`
        artifact = Artifact(
            name: image.name, repoTags: image.repoTags, indexDigest: image.indexDigest, manifestDigest: image.manifestDigest,
            mediaType: image.manifestMediaType, configDigest: image.configDigest, platform: image.platform?.description,
            created: image.config.created)
        os = result.os.map {
            OS(
                id: $0.id, versionID: $0.versionID, prettyName: $0.prettyName, namespace: $0.namespace, source: $0.source,
                endOfSupport: OSLifecycle.release(id: $0.id, prettyName: $0.prettyName, namespace: $0.namespace).flatMap(OSLifecycle.endOfSupport(of:)))
        }
        layers = result.layers.enumerated().map { index, scanned in
            let summary = scanned.facts.summary
            return Layer(
                index: index, digest: summary.digest, diffID: scanned.layer.diffID, mediaType: scanned.layer.mediaType,
                compression: summary.compression, size: summary.compressedSize, uncompressedSize: summary.uncompressedSize,
                entries: summary.entryCount, files: summary.fileCount, createdBy: scanned.createdBy)
        }
        packages = result.packages.map { entry in
            let package = entry.package
            return Package(
                ecosystem: package.ecosystem, name: package.name, version: package.version, arch: package.arch,
                source: package.source, path: package.path,
                layer: result.layers[entry.layer].facts.summary.digest, layerDiffID: result.layers[entry.layer].layer.diffID,
                modularityLabel: package.modularityLabel)
        }
        vulnerabilities = []
        remediation = []
        suppressed = []
        summary = Summary(total: 0, bySeverity: [:], fixable: 0, advisoriesLoaded: advisoriesLoaded)
        warnings = []
        readWarnings =
            result.layers.flatMap { scanned in
                scanned.facts.warnings.map { "layer \(scanned.facts.summary.digest): \($0)" }
            } + result.filesystemWarnings
    }

    /// The report of an SBOM's packages (`fathom scan sbom:FILE`): the SBOM stands as the
    /// image's one layer, named by its digest; its packages are the inventory.
    package init(sbom: SBOMInventory, name: String, digest: Digest, size: Int64, advisoriesLoaded: Bool) {
        schemaVersion = 3
        artifact = Artifact(
            name: name, repoTags: [], indexDigest: nil, manifestDigest: nil, mediaType: MediaType(sbom.mediaType), configDigest: digest,
            platform: nil, created: nil)
        os = sbom.os.map {
            OS(
                id: $0.id, versionID: $0.versionID, prettyName: $0.prettyName, namespace: $0.namespace, source: $0.source,
                endOfSupport: OSLifecycle.release(id: $0.id, prettyName: $0.prettyName, namespace: $0.namespace).flatMap(OSLifecycle.endOfSupport(of:)))
        }
        layers = [
            Layer(
                index: 0, digest: digest, diffID: nil, mediaType: MediaType(sbom.mediaType), compression: .uncompressed, size: size,
                uncompressedSize: size, entries: sbom.packages.count, files: 1, createdBy: "\(sbom.format) SBOM" + (sbom.subject.map { " of \($0)" } ?? ""))
        ]
        packages = sbom.packages.map {
            Package(
                ecosystem: $0.ecosystem, name: $0.name, version: $0.version, arch: $0.arch, source: $0.source, path: $0.path, layer: digest,
                modularityLabel: $0.modularityLabel)
        }
        vulnerabilities = []
        remediation = []
        suppressed = []
        coverage = nil
        changes = nil
        summary = Summary(total: 0, bySeverity: [:], fixable: 0, advisoriesLoaded: advisoriesLoaded)
        warnings = []
        readWarnings = sbom.warnings
    }

    /// Sets what matching and the policy made of the image: the findings reported and those
    /// suppressed, the changes, the coverage, and the warnings said anew from them (`notes`: the
    /// engine's own, such as the filters' counts and stale data).
    package mutating func set(
        findings: [Finding], suppressed: [ScanPolicy.Suppressed], changes: ScanChanges?, coverage: Coverage?, advisoriesLoaded: Bool,
        notes: [String], kernel: [Finding] = [], filtered: ScanPolicy.Filtered? = nil
    ) {
        summary.advisoriesLoaded = advisoriesLoaded
        summary.filtered = (filtered?.total ?? 0) > 0 ? filtered : nil
        self.suppressed = suppressed
        self.kernel = kernel.isEmpty ? nil : kernel.map(vulnerability)
        self.changes = changes?.previousScannedAt == nil ? nil : changes
        self.coverage = summary.advisoriesLoaded ? coverage : nil
        setFindings(findings)
        // A new finding names its other ids, as its notification does (a receiver, or a reader,
        // keys on a notice's CVEs); a resolved one's were not kept with the previous scan.
        if var named = self.changes {
            let aliases = Dictionary(
                vulnerabilities.map {
                    (StoredFinding(id: $0.id, ecosystem: $0.ecosystem, package: $0.package, installedVersion: "", fixedVersion: nil, severity: "").key, $0.aliases)
                }, uniquingKeysWith: { first, _ in first })
            func withAliases(_ findings: [StoredFinding]) -> [StoredFinding] {
                findings.map { finding in
                    var finding = finding
                    finding.aliases = aliases[finding.key].flatMap { $0.isEmpty ? nil : $0 }
                    return finding
                }
            }
            named.new = withAliases(named.new)
            named.fixChanged = named.fixChanged.map(withAliases)
            self.changes = named
        }
        // A report stored before `readWarnings` was kept: its layer warnings are those that name a layer.
        let read = readWarnings ?? warnings.filter { $0.hasPrefix("layer ") }
        readWarnings = read
        warnings =
            read + remediation.compactMap { $0.problem.map { "remediation: \($0)" } } + uncheckedWarnings
            + [OSLifecycle.warning(for: os.flatMap { OSLifecycle.release(id: $0.id, prettyName: $0.prettyName, namespace: $0.namespace) })].compactMap { $0 }
            + notes
    }

    /// Said when the store held no advisory at all: nothing was checked.
    public static let noAdvisoryData = "the store holds no advisory data: no package was checked (fathom db update, or fathom db import PATH)"

    /// What was not checked, one line each: no advisory data at all, or a gap per ecosystem or
    /// release. Every format carries these, and `scan` says them on standard error beside any
    /// format but the table (which shows them beside its counts): a report that looks clean
    /// but was not checked must not pass unnoticed.
    public var uncheckedWarnings: [String] {
        guard summary.advisoriesLoaded else { return [Self.noAdvisoryData] }
        var lines = coverage?.warnings(unsupportedOS: unsupportedOS) ?? []
        if let missing = missingOSPackages {
            // An SBOM's own words instead of the coverage's, which speak of an image's database;
            // for an image, the coverage's when it says it.
            if isSBOM, let release = coverage?.osReleaseWithoutPackages { lines.removeAll { $0 == Coverage.noPackageDatabaseWarning(release) } }
            if isSBOM || coverage?.osReleaseWithoutPackages == nil { lines.append(missing) }
        }
        return lines
    }

    /// An OS release that was read but has no advisory namespace, as the gap names it (not "not
    /// identified"): Oracle Linux (`ID ol`), or a release without a `VERSION_ID` (Debian sid).
    public var unsupportedOS: String? {
        guard let os, os.namespace == nil else { return nil }
        return "\(os.prettyName ?? os.id) (ID \(os.id)\(os.versionID?.isEmpty == false ? "" : ", no VERSION_ID"))"
    }

    /// Said when an image's OS is one fathom checks (it has advisories' namespace) but no
    /// package of it was found: its package database was deleted, hidden by a later layer or
    /// left out by --skip-dirs, or is in a form fathom does not read, so none of its OS packages
    /// could be checked (Trivy warns of the same; for an SBOM given `--os`, it lists none).
    /// The coverage says it too since fathom kept it there (`osReleaseWithoutPackages`); this
    /// covers what it does not: `--skip-dirs` leaving no OS package, a report written before.
    /// (Its words are those earlier reports stored, so that the two read as one line.)
    public var missingOSPackages: String? {
        guard let os, os.namespace != nil, !packages.contains(where: { FathomInventory.Package.osEcosystems.contains($0.ecosystem) }) else {
            return nil
        }
        if isSBOM { return "the SBOM names \(os.prettyName ?? os.id) but lists none of its packages (no deb, apk or rpm purl): no OS package was checked" }
        return "\(os.prettyName ?? os.id) was identified, but no package database fathom reads was found (deleted, hidden by a later layer, "
            + "or in another form): its OS packages were not checked"
    }

    /// Whether a policy someone asked for left a finding out: an ignore rule or VEX statement
    /// suppressed it, or a filter (`--severity`, `--ignore-unfixed`, `--ignore-status`…) did.
    /// Such a report does not hold every finding of its packages. What every report leaves out
    /// by default (Debian's unimportant findings, a kernel's reported apart) is not counted: it
    /// is the same for every image, so it makes no report differ from another.
    public var policyLeftFindingsOut: Bool {
        !suppressed.isEmpty || summary.filtered.map { $0.total - $0.unimportant > 0 } ?? false
    }

    /// Whether the report is of an SBOM's packages (`sbom:FILE`), not of an image.
    var isSBOM: Bool { ["spdx", "cyclonedx"].contains { artifact.mediaType?.rawValue.contains($0) == true } }

    /// A finding as the document shows it.
    private func vulnerability(_ finding: Finding) -> Vulnerability {
        Vulnerability(
            id: finding.id, aliases: finding.aliases, ecosystem: finding.ecosystem, package: finding.package,
            installedVersion: finding.installedVersion, fixedVersion: finding.fixedVersion, status: finding.status,
            vendorStatus: finding.vendorStatus, severity: finding.severity, severitySource: finding.severitySource, cvss: finding.cvss,
            layer: layers[finding.layerIndex].digest, layerDiffID: layers[finding.layerIndex].diffID, path: finding.path, source: finding.source, title: finding.title,
            references: finding.references, kev: finding.kev, epss: finding.epss, matchedAs: finding.matchedAs)
    }

    /// Vulnerabilities, remediation and summary from `findings`.
    private mutating func setFindings(_ findings: [Finding]) {
        vulnerabilities = findings.map(vulnerability)
        remediation = Remediation.group(findings)
        var counts: [String: Int] = [:]
        for severity in Severity.allCases { counts[severity.rawValue] = 0 }
        for finding in findings { counts[finding.severity.rawValue, default: 0] += 1 }
        summary = Summary(
            total: findings.count, bySeverity: counts, fixable: findings.filter { $0.fixedVersion != nil }.count,
            advisoriesLoaded: summary.advisoriesLoaded, filtered: summary.filtered)
    }

    /// Pretty-printed JSON with a trailing newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The compact JSON the service stores and serves for each image: `json()`'s document
    /// without its white space, written by the streaming encoder (a fifth of Foundation's CPU
    /// per report, measured in the worker).
    public func document() throws -> [UInt8] {
        try StreamingJSONEncoder().encode(self)
    }

    /// Reads a report `json()` or `document()` wrote (its dates are ISO 8601, not Foundation's default seconds).
    public static func decode(_ bytes: some Sequence<UInt8>) throws -> ScanReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(ScanReport.self, from: Data(bytes))
    }
}
