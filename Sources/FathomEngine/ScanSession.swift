public import FathomAdvisory
public import FathomCore
public import FathomInventory
public import FathomPipeline
public import FathomStore
public import Foundation
public import FathomReport
public import FathomOCI
public import FathomRegistry

/// The scan engine every front door goes through (`scan`, each image of `registry` and
/// `rescan`, a service job, a Harbor job): it turns what the fleet pipeline found for an image
/// into a result judged by one policy. The commands parse flags, call it and print.
public struct ScanSession: Sendable {
    /// The pipeline: the layer cache, the advisories, the history.
    public let fleet: FleetScanner
    public let policy: ScanPolicy
    /// Said of the advisory data as a whole (its age), added to every report.
    public let dataWarnings: [String]

    public var advisoriesLoaded: Bool { fleet.index.recordCount > 0 }

    /// A session over `fleet` judging by `policy`; `dataWarnings` go into every report it makes,
    /// and `request` (a scan request's own policy, already joined to `policy`) is recorded in them.
    public init(fleet: FleetScanner, policy: ScanPolicy, dataWarnings: [String] = [], request: RequestPolicy? = nil) {
        self.request = request
        self.fleet = fleet
        self.policy = policy
        self.dataWarnings = dataWarnings
    }

    /// A session over `store` with `policy`; with `maxDataAge` (`7d`…), reports warn when the
    /// advisory data is older.
    public static func open(
        store: any Store, scanner: ImageScanner, policy: ScanPolicy, maxDataAge: (cutoff: Date, text: String)? = nil,
        imageConcurrency: Int = FleetScanner.defaultImageConcurrency(), imageTimeout: Duration? = nil
    ) async throws -> ScanSession {
        let fleet = try await FleetScanner(
            scanner: scanner, store: store, index: try await store.advisories(), imageConcurrency: imageConcurrency, imageTimeout: imageTimeout)
        var warnings: [String] = []
        if let maxDataAge, fleet.index.recordCount > 0,
            let stale = try await store.advisoryFeeds().staleWarning(olderThan: maxDataAge.cutoff, maxAge: maxDataAge.text)
        {
            warnings.append(stale)
        }
        return ScanSession(fleet: fleet, policy: policy, dataWarnings: warnings)
    }

    /// The policy a scan request gave, joined to this session's (nil: none), recorded in the reports it makes.
    public let request: RequestPolicy?

    /// This session with a scan request's own policy joined to its own, over the same pipeline.
    public func with(request: RequestPolicy?) throws -> ScanSession {
        guard let request else { return self }
        return ScanSession(fleet: fleet, policy: try request.applied(to: policy), dataWarnings: dataWarnings, request: request)
    }

    /// Scans one image; never throws (a failure is an outcome).
    public func scan(_ job: FleetJob, filter: FleetFilter? = nil) async -> ScanOutcome {
        evaluate(await fleet.scan(job, filter: filter))
    }

    /// What the pipeline's outcome comes to under the policy.
    public func evaluate(_ outcome: FleetOutcome) -> ScanOutcome {
        switch outcome {
        case .scanned(let image):
            guard image.result != nil else {
                let (judged, verdict) = applied(image)
                return .rematched(judged, verdict: verdict)
            }
            do {
                return .scanned(try result(of: image))
            } catch {
                return .failed(name: image.name, error: FathomError.wrapping(error, image: image.name))
            }
        case .unchanged(let image):
            let (judged, verdict) = applied(image)
            return .unchanged(judged, verdict: verdict)
        case .skipped(let name, let reason): return .skipped(name: name, reason: reason)
        case .failed(let name, let error): return .failed(name: name, error: error)
        case .removed(let name): return .removed(name: name)
        }
    }

    /// The result of an image the pipeline read.
    public func result(of image: MatchedImage) throws -> ScanResult {
        guard let scanned = image.result else { throw FathomError(.invalidInput, "the image was not read", image: image.name) }
        var report = ScanReport(
            ScanReport.ReadImage(
                image: scanned.image, layers: scanned.layers.map { .init(layer: $0.layer, facts: $0.facts, createdBy: $0.createdBy) },
                os: scanned.os, packages: scanned.packages, filesystemWarnings: scanned.filesystemWarnings),
            advisoriesLoaded: advisoriesLoaded)
        var notes: [String] = []
        if !policy.skips.isEmpty {
            let before = report.packages.count
            let unmatched = policy.skips.unmatched(in: report.packages.map(\.path))
            report.packages.removeAll { policy.skips.skips($0.path) }
            if before > report.packages.count {
                notes.append("--skip-dirs/--skip-files left out \(before - report.packages.count) of \(before) packages")
            }
            notes += unmatched.map { "\($0) matched no file a package was read from" }
        }
        var result = judged(report, findings: image.findings, changes: image.changes, coverage: image.coverage, notes: notes)
        result.read = ScanResult.Read(layers: scanned.layersFetched, bytes: scanned.bytesFetched, known: scanned.known)
        return result
    }

    /// `stored` (a report made before) brought up to a re-match of its image: the findings, the
    /// changes, the coverage and every warning that depends on them are said anew under this
    /// session's policy; what reading the image found (artifact, layers, packages) is kept.
    public func rematched(_ stored: ScanReport, by image: MatchedImage) -> ScanResult {
        // The policy its scan request gave still applies (a part that no longer reads is said, not dropped silently).
        var notes: [String] = []
        var session = self
        if let kept = stored.requestPolicy {
            do {
                session = try with(request: kept)
            } catch {
                notes.append("the scan request's policy no longer applies: \(error)")
            }
        }
        var result = session.judged(stored, findings: image.findings, changes: image.changes, coverage: image.coverage, notes: notes)
        result.report.requestPolicy = stored.requestPolicy  // kept, even when it no longer reads
        return result
    }

    /// The result of the packages an SBOM lists (`fathom scan sbom:FILE`); nothing is cached.
    public func result(sbom: SBOMInventory, name: String, bytes: [UInt8]) async throws -> ScanResult {
        let entries = sbom.packages.map { InventoryEntry(package: $0, layer: 0) }
        let findings = try await ImageMatcher.findings(entries, osNamespace: sbom.os?.namespace, lookup: fleet.index)
        let coverage = Coverage(entries, osNamespace: sbom.os?.namespace, lookup: fleet.index)
        var digest = DigestHasher()
        digest.update(bytes)
        let report = ScanReport(sbom: sbom, name: name, digest: digest.finalize(), size: Int64(bytes.count), advisoriesLoaded: advisoriesLoaded)
        var notes: [String] = []
        if sbom.os == nil && sbom.packages.contains(where: \.isOSPackage) {
            notes.append("\(name): the SBOM names no OS: its OS packages were not checked (give --os ID:VERSION)")
        }
        // VEX statements about the image the SBOM is of (by its digest) apply, as on the image.
        let subject = sbom.subjectDigest.map { ImageIdentity(name: sbom.subject ?? name, digests: [$0]) }
        var result = judged(report, findings: findings, changes: nil, coverage: coverage, notes: notes, image: subject)
        // An SBOM that lists nothing is not a clean image: nothing was checked (coverage says so
        // itself when the SBOM names no OS either).
        if sbom.packages.isEmpty && coverage.nothingToCheck != true {
            result.report.warnings.append("\(name): the SBOM lists no package: nothing was checked")
            result.verdict = verdict(kept: result.report.vulnerabilities.count, gaps: ["the SBOM lists no package"])
        }
        return result
    }

    /// Applies the policy to `findings` and sets them, the changes and the coverage in `report`.
    private func judged(
        _ report: ScanReport, findings: [Finding], changes: ScanChanges?, coverage: Coverage, notes: [String], image subject: ImageIdentity? = nil
    ) -> ScanResult {
        var report = report
        report.requestPolicy = request
        let image = subject
            ?? ImageIdentity(name: report.artifact.name, digests: [report.artifact.manifestDigest, report.artifact.indexDigest].compactMap { $0?.description })
        let purls = report.findingURLs
        let outcome = policy.apply(findings, purl: { purls($0) }, image: image)
        let kept = changes.map { changes in
            honoured(changes, kept: outcome.kept, osNamespace: report.os?.namespace, purl: { purls($0) }, image: image)
        }
        report.set(
            findings: outcome.kept, suppressed: outcome.suppressed, changes: kept, coverage: coverage, advisoriesLoaded: advisoriesLoaded,
            notes: notes + [
                outcome.filtered.warning, outcome.expiredNote, outcome.withoutEPSSNote, Self.kernelNote(outcome.kernel), exploitationNote,
                policy.notesUnusedRules ? ScanPolicy.unusedRulesNote(policy.unusedRules(used: outcome.usedRules), of: "this image") : nil,
            ].compactMap { $0 }
                + dataWarnings,
            kernel: outcome.kernel, filtered: outcome.filtered)
        // What the report says was not checked (an OS with no package left by --skip-dirs, an
        // SBOM's own words too) is what forbids a clean verdict.
        let gaps = advisoriesLoaded ? report.uncheckedWarnings + [kevGap].compactMap { $0 } : gaps(coverage, unsupportedOS: report.unsupportedOS)
        var result = ScanResult(report: report, verdict: verdict(kept: outcome.kept.count, gaps: gaps), read: nil)
        result.usedRules = outcome.usedRules
        result.filtered = outcome.filtered
        return result
    }

    /// Says that `--kev-only` had no data to go by: every finding it leaves out would
    /// otherwise look like a clean image, so it is also a gap of the verdict.
    var kevGap: String? {
        guard policy.kevOnly, fleet.index.exploitationCounts.kev == 0 else { return nil }
        return "--kev-only leaves out every finding: the store holds no CISA KEV data (fathom db update, or db import the KEV catalog)"
    }

    /// Says that `--kev-only` or `--epss-threshold` had no data to go by. Without EPSS scores the
    /// threshold leaves nothing out (a finding without a score is kept), so only KEV's is a gap.
    var exploitationNote: String? {
        if let kevGap { return kevGap }
        if let threshold = policy.epssThreshold, threshold > 0, fleet.index.exploitationCounts.epss == 0 {
            return "--epss-threshold has nothing to go by: the store holds no EPSS scores, so it left no finding out (fathom db update, or db import the EPSS CSV)"
        }
        return nil
    }

    /// Says that kernel findings are listed apart, and why.
    static func kernelNote(_ kernel: [Finding]) -> String? {
        guard !kernel.isEmpty else { return nil }
        let packages = Set(kernel.map(\.package)).sorted()
        return "\(kernel.count) finding\(kernel.count == 1 ? "" : "s") in kernel packages (\(packages.prefix(3).joined(separator: ", "))\(packages.count > 3 ? ", …" : "")) listed apart and left out of the verdict: a container runs on its host's kernel (--include-kernel counts them)"
    }

    /// What changed, as the policy shows it: a new finding counts when it is reported; a resolved
    /// one when the policy would have reported it.
    func honoured(
        _ changes: ScanChanges, kept: [Finding], osNamespace: String?, purl: (Finding) -> PackageURL?, image: ImageIdentity?
    ) -> ScanChanges {
        var changes = changes
        func key(id: String, package: String, version: String) -> String { "\(id)\u{0}\(package)\u{0}\(version)" }
        let reported = Set(kept.map { key(id: $0.id, package: $0.package, version: $0.installedVersion) })
        func isReported(_ finding: StoredFinding) -> Bool {
            reported.contains(key(id: finding.id, package: finding.package, version: finding.installedVersion))
        }
        changes.new = changes.new.filter(isReported)
        changes.fixChanged = changes.fixChanged.map { $0.filter(isReported) }.flatMap { $0.isEmpty ? nil : $0 }
        // Unchanged: the reported findings that are not new (each finding is one or the other,
        // counted one for one); those the policy leaves out were counted too.
        changes.unchanged = min(changes.unchanged, max(0, kept.count - changes.new.count))
        func shown(_ finding: StoredFinding) -> Bool {
            let severity = Severity(rawValue: finding.severity) ?? .unknown
            let url = PackageURL(
                ecosystem: finding.ecosystem, name: finding.package, version: finding.installedVersion, arch: nil,
                osID: Self.osID(of: osNamespace), osVersion: Self.osVersion(of: osNamespace))
            return policy.reports(
                id: finding.id, package: finding.package, installedVersion: finding.installedVersion, fixed: finding.fixedVersion != nil,
                severity: severity, purl: url, image: image)
        }
        changes.resolved = changes.resolved.filter(shown)
        changes.notChecked = changes.notChecked.map { $0.filter(shown) }.flatMap { $0.isEmpty ? nil : $0 }
        return changes
    }

    /// An image re-matched without a report (a rescan) under the policy: its findings those the
    /// policy reports, its changes those it shows, and the verdict; each package's purl is made
    /// from its finding and the OS namespace.
    public func applied(_ image: MatchedImage) -> (MatchedImage, ScanVerdict) {
        let identity = ImageIdentity(name: image.name, digests: [image.image.manifestDigest, image.image.indexDigest].compactMap { $0?.description })
        let (osID, osVersion) = (Self.osID(of: image.osNamespace), Self.osVersion(of: image.osNamespace))
        let purl: (Finding) -> PackageURL? = {
            PackageURL(
                ecosystem: $0.ecosystem, name: $0.package, version: $0.installedVersion, arch: $0.arch,
                source: $0.sourcePackage.map { Package.Source(name: $0, version: nil) }, osID: osID, osVersion: osVersion)
        }
        let outcome = policy.apply(image.findings, purl: purl, image: identity)
        var judged = image
        judged.findings = outcome.kept
        judged.usedRules = outcome.usedRules
        judged.filtered = outcome.filtered
        judged.changes = honoured(image.changes, kept: outcome.kept, osNamespace: image.osNamespace, purl: purl, image: identity)
        return (judged, verdict(kept: outcome.kept.count, gaps: gaps(image.coverage)))
    }

    /// What forbids a clean verdict: no advisories at all, packages nothing was checked
    /// against, or an exploitation filter without its data.
    func gaps(_ coverage: Coverage, unsupportedOS: String? = nil) -> [String] {
        (advisoriesLoaded ? coverage.warnings(unsupportedOS: unsupportedOS) : ["the store holds no advisories (fathom db import)"])
            + [kevGap].compactMap { $0 }
    }

    func verdict(kept: Int, gaps: [String]) -> ScanVerdict {
        guard policy.exitCode != 0 else { return ScanVerdict(kind: .notAsked, findings: kept, gaps: gaps, exitCode: 0) }
        if kept > 0 { return ScanVerdict(kind: .fail, findings: kept, gaps: gaps, exitCode: policy.exitCode) }
        if !gaps.isEmpty && !policy.allowMissingData { return ScanVerdict(kind: .noVerdict, findings: 0, gaps: gaps, exitCode: 1) }
        return ScanVerdict(kind: .pass, findings: 0, gaps: gaps, exitCode: 0)
    }

    /// The release a purl's `distro` qualifier takes from an advisory namespace (`Debian:12` →
    /// `12`, `Alpine:v3.10` → `3.10`); VEX compares a `distro` given with fewer parts as a prefix.
    static func osVersion(of namespace: String?) -> String? {
        guard let namespace, let colon = namespace.firstIndex(of: ":") else { return nil }
        var version = String(namespace[namespace.index(after: colon)...])
        if version.hasPrefix("v") { version.removeFirst() }
        return version.isEmpty || version.contains(" ") ? nil : version
    }

    /// The distribution id a purl's namespace takes from an advisory namespace (`Debian:12` → `debian`).
    static func osID(of namespace: String?) -> String? {
        guard let namespace, let name = namespace.split(separator: ":").first else { return nil }
        switch name.lowercased() {
        case "red hat": return "rhel"
        case "rocky linux": return "rocky"
        case "amazon linux": return "amzn"
        case "azure linux": return "azurelinux"
        case "suse": return "sles"
        case "opensuse": return "opensuse"
        default: return name.lowercased()
        }
    }
}

/// One image's outcome through the engine.
public enum ScanOutcome: Sendable {
    /// Read (or its layers' facts taken from the store) and reported.
    case scanned(ScanResult)
    /// Re-matched from the store with new findings; no report was made (the service updates the stored one).
    case rematched(MatchedImage, verdict: ScanVerdict)
    /// Re-matched from the store with the findings it had (the coverage may have changed).
    case unchanged(MatchedImage, verdict: ScanVerdict)
    case skipped(name: String, reason: String)
    case failed(name: String, error: FathomError)
    /// Gone from its registry (a rescan found its tag unknown there), and taken out of the store.
    case removed(name: String)

    public var name: String {
        switch self {
        case .scanned(let result): result.report.artifact.name
        case .rematched(let image, _), .unchanged(let image, _): image.name
        case .skipped(let name, _), .failed(let name, _), .removed(let name): name
        }
    }

    /// The ignore rules and VEX statements (by origin) that suppressed one of its findings.
    public var usedRules: Set<String> {
        switch self {
        case .scanned(let result): result.usedRules
        case .rematched(let image, _), .unchanged(let image, _): image.usedRules
        case .skipped, .failed, .removed: []
        }
    }

    /// What the policy's filters left out of its findings.
    public var filtered: ScanPolicy.Filtered {
        switch self {
        case .scanned(let result): result.filtered
        case .rematched(let image, _), .unchanged(let image, _): image.filtered
        case .skipped, .failed, .removed: ScanPolicy.Filtered()
        }
    }

    /// The verdict, when the image was matched.
    public var verdict: ScanVerdict? {
        switch self {
        case .scanned(let result): result.verdict
        case .rematched(_, let verdict), .unchanged(_, let verdict): verdict
        case .skipped, .failed, .removed: nil
        }
    }
}

extension ScanReport {
    /// Each finding's package as a purl, from the report's package list (its arch and source
    /// qualifiers included), else from the finding itself.
    /// The packages' purls are made on the first call (only a VEX statement naming a finding
    /// asks: making every package's purl for every image was a twentieth of a warm scan's CPU).
    var findingURLs: (Finding) -> PackageURL? {
        let packages = self.packages
        let (osID, osVersion) = (os?.id, os?.versionID)
        let byKey = LazyValue<[String: PackageURL]> {
            var byKey: [String: PackageURL] = [:]
            for package in packages {
                guard let url = PackageURL(
                    ecosystem: package.ecosystem, name: package.name, version: package.version, arch: package.arch, source: package.source,
                    osID: osID, osVersion: osVersion)
                else { continue }
                byKey[Self.packageKey(package.ecosystem, package.name, package.version, package.path)] = url
            }
            return byKey
        }
        return { finding in
            byKey.value[Self.packageKey(finding.ecosystem, finding.package, finding.installedVersion, finding.path)]
                ?? PackageURL(
                    ecosystem: finding.ecosystem, name: finding.package, version: finding.installedVersion, arch: finding.arch,
                    source: finding.sourcePackage.map { Package.Source(name: $0, version: nil) }, osID: osID, osVersion: osVersion)
        }
    }
}

extension FleetSummary {
    /// Adds one image's outcome through the engine: a scanned image by its report (the same
    /// path as the service's stored reports), a skipped or failed one by its reason.
    public mutating func add(_ outcome: ScanOutcome) {
        switch outcome {
        case .skipped(let name, let reason): add(skipped: name, reason: reason)
        case .removed(let name): add(skipped: name, reason: "deleted from the registry: taken out of the store")
        case .failed(let name, let error): add(failed: name, reason: "\(error)")
        case .unchanged, .rematched:
            // Only rescans re-match without a report; a fleet scan never yields these.
            images.scanned += 1
        case .scanned(let result):
            add(report: result.report, name: result.report.artifact.name, read: result.read)
            judge(result.report.artifact.name, result.verdict)
        }
    }
}

extension RescanReport {
    /// Adds one image's outcome through the engine (findings and changes as the policy shows them).
    public mutating func add(_ outcome: ScanOutcome) {
        switch outcome {
        case .failed(let name, let error): add(failure: name, reason: "\(error)", failed: true)
        case .skipped(let name, let reason): add(failure: name, reason: reason, failed: false)
        case .removed(let name): removed.append(name)
        case .unchanged(let image, let verdict):
            addUnchanged(name: image.name, verdict: verdict)
            notChecked(image.coverage.gapNames)
        case .scanned(let result):
            // The tag moved: the new image was read.
            let report = result.report
            // As for the images re-matched, so an image's gaps do not depend on whether its tag moved.
            notChecked(report.fleetGaps)
            add(
                name: report.artifact.name, manifestDigest: report.artifact.manifestDigest, moved: true, findings: report.vulnerabilities.count,
                changes: report.changes, verdict: result.verdict)
        case .rematched(let image, let verdict):
            notChecked(image.coverage.gapNames)
            add(
                name: image.name, manifestDigest: image.image.manifestDigest, moved: false, findings: image.findings.count, changes: image.changes,
                verdict: verdict)
        }
    }

    /// Finishes with the pipeline's matching counters.
    public mutating func finish(elapsed: Duration, warnings: [String], counters: MatchCounters.Counts) {
        finish(
            elapsed: elapsed, warnings: warnings,
            matching: Matching(reused: counters.reused, updated: counters.updated, matched: counters.matched, packagesMatched: counters.packagesMatched))
    }
}

extension ScanSession {
    /// The artifact types of VEX documents attached to images: OpenVEX, and CycloneDX (VEX is
    /// a CycloneDX BOM with `vulnerabilities`).
    public static let vexArtifactTypes: Set<String> = [
        "application/vnd.openvex+json", "application/vnd.cyclonedx+json", "application/vnd.cyclonedx.vex+json",
    ]

    /// This session with more VEX statements (those attached to one image), over the same pipeline.
    public func with(vex statements: [VEXStatement]) -> ScanSession {
        guard !statements.isEmpty else { return self }
        var policy = self.policy
        policy.vex += statements
        return ScanSession(fleet: fleet, policy: policy, dataWarnings: dataWarnings, request: request)
    }

    /// The VEX statements attached to the image `reference` names (its manifest `digest`) as OCI
    /// referrers: each attached VEX artifact's blobs read as VEX documents (at most `limit`
    /// artifacts). `warn` hears of documents that cannot be read; they do not fail the scan.
    public static func referredVEX(
        client: RegistryClient, reference: ImageReference, digest: Digest, limit: Int = 32, warn: (String) -> Void
    ) async throws -> [VEXStatement] {
        let repository = ImageReference(registry: reference.registry, repository: reference.repository, tag: nil, digest: digest)
        var statements: [VEXStatement] = []
        for artifact in try await client.referrers(repository, subject: digest, artifactTypes: vexArtifactTypes).prefix(limit) {
            let origin = "VEX referrer \(artifact.digest) of \(reference.registry)/\(reference.repository)@\(digest)"
            do {
                let fetched = try await client.manifest(
                    ImageReference(registry: reference.registry, repository: reference.repository, tag: nil, digest: artifact.digest),
                    accept: [.ociManifest])
                let manifest = try JSONDecoder().decode(Manifest.self, from: Data(fetched.bytes))
                for blob in manifest.layers {
                    let bytes = try await client.smallBlob(repository, blob)
                    statements += try VEXDocument.statements(bytes, file: origin, warn: warn)
                }
            } catch {
                warn("\(origin): not read: \(FathomError.wrapping(error))")
            }
        }
        return statements
    }
}

/// A value made on first use, then kept.
final class LazyValue<Value> {
    private let make: () -> Value
    private var made: Value?

    init(_ make: @escaping () -> Value) { self.make = make }

    var value: Value {
        if let made { return made }
        let value = make()
        made = value
        return value
    }
}
