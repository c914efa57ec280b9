public import FathomAdvisory
public import FathomArchive
public import FathomCore
public import FathomInventory
public import FathomOCI
public import Foundation

/// One finding as the history keeps it: enough to say what is new, resolved or unchanged.
/// Kept apart from `Finding` on purpose: every scan of every image stores these, so only the
/// fields a comparison and a summary need are kept (one tab-separated line each), and history
/// written by one release stays readable by the next whatever `Finding` grows.
public struct StoredFinding: Sendable, Hashable, Codable {
    public var id: String
    public var ecosystem: String
    public var package: String
    public var installedVersion: String
    public var fixedVersion: String?
    public var severity: String
    /// Where a language package was found (`app/node_modules/minimist/package.json`): two
    /// copies at one version are two findings, told apart by it. Nil for an OS package (its
    /// database is the path) and in scans stored before it was kept.
    public var path: String?
    /// In a change's `fixChanged`: the fixed version the previous scan gave (nil: none then;
    /// meaningless elsewhere). Not stored with the scans.
    public var previousFixedVersion: String?
    /// In a change's `resolved`: why the finding is gone, where the scan could tell (nil in
    /// scans compared before it was told). Not stored with the scans.
    public var resolution: Resolution?
    /// With `resolution` `upgraded`: the version (or versions, comma-separated) of the package
    /// installed now, the fix confirmed.
    public var currentVersion: String?
    /// In a notification: the finding's other ids (the distribution's record a CVE finding is named after, a DSA's CVEs).
    /// Not stored with the scans.
    public var aliases: [String]?

    /// Why a finding of the previous scan is resolved.
    public enum Resolution: String, Sendable, Hashable, Codable {
        /// The package is installed at another version, which the advisory does not affect.
        case upgraded
        /// The package is no longer installed.
        case removed
        /// The package is still installed at the same version: the advisory data no longer
        /// names it (withdrawn, its range or the distribution's status corrected).
        case advisory
    }

    public init(
        id: String, ecosystem: String, package: String, installedVersion: String, fixedVersion: String?, severity: String, path: String? = nil
    ) {
        self.path = path
        self.id = id
        self.ecosystem = ecosystem
        self.package = package
        self.installedVersion = installedVersion
        self.fixedVersion = fixedVersion
        self.severity = severity
    }

    /// A reported finding as the history keeps it: a language package with the path it was
    /// found at, an OS package without one (its database is the path).
    public init(
        reported id: String, ecosystem: String, package: String, installedVersion: String, fixedVersion: String?, severity: String, path: String?
    ) {
        self.init(
            id: id, ecosystem: ecosystem, package: package, installedVersion: installedVersion, fixedVersion: fixedVersion, severity: severity,
            path: Package.osEcosystems.contains(ecosystem) ? nil : path)
    }

    /// Findings as the history stores them: one line each, tab-separated fields (JSON coding of
    /// every scan's findings was the largest cost of a warm fleet scan).
    public static func encode(_ findings: [StoredFinding]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(findings.count * 96)
        for finding in findings {
            var fields = [finding.id, finding.ecosystem, finding.package, finding.installedVersion, finding.fixedVersion ?? "", finding.severity]
            // The path is a seventh field only where there is one: OS findings encode as before.
            if let path = finding.path { fields.append(path) }
            for (index, field) in fields.enumerated() {
                if index > 0 { bytes.append(0x09) }
                // A tab or newline inside a field (none is expected) becomes a space.
                for byte in field.utf8 { bytes.append(byte == 0x09 || byte == 0x0A ? 0x20 : byte) }
            }
            bytes.append(0x0A)
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> [StoredFinding] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 6 || fields.count == 7 else { return nil }
            return StoredFinding(
                id: fields[0], ecosystem: fields[1], package: fields[2], installedVersion: fields[3],
                fixedVersion: fields[4].isEmpty ? nil : fields[4], severity: fields[5], path: fields.count == 7 ? fields[6] : nil)
        }
    }

    /// The identity compared across scans: an advisory in a package (not its version, so an
    /// upgrade that fixes it shows as resolved and one that does not as unchanged).
    public var key: String { "\(id) \(ecosystem)/\(package)" }
}

/// An image as the store remembers it: enough to rebuild its inventory from stored layer facts.
/// A projection of `ResolvedImage` kept apart on purpose: the store keeps neither the config
/// (configs are documents by digest) nor a name (one image is scanned under many tags).
public struct ImageRecord: Sendable, Hashable, Codable {
    /// The index the tag named, when the image was picked from one (what a tag HEAD returns).
    public var indexDigest: Digest?
    public var manifestDigest: Digest?
    public var configDigest: Digest
    public var created: String?
    public var platform: String?
    public var layers: [ImageLayer]

    public init(
        indexDigest: Digest? = nil, manifestDigest: Digest?, configDigest: Digest, created: String?, platform: String?,
        layers: [ImageLayer]
    ) {
        self.indexDigest = indexDigest
        self.manifestDigest = manifestDigest
        self.configDigest = configDigest
        self.created = created
        self.platform = platform
        self.layers = layers
    }

    /// The digest a registry serves for the tag: the index's, else the manifest's.
    public var taggedDigest: Digest? { indexDigest ?? manifestDigest }

    /// The manifest digest, else (legacy `docker save`) the config digest.
    public var key: String { (manifestDigest ?? configDigest).description }
}

/// One scan of a name: recorded by `ScanHistory.recordScan`, read back by `latestScans`.
public struct ScanRecord: Sendable {
    public var name: String
    public var image: ImageRecord
    public var scannedAt: Date
    public var advisoryVersion: String
    public var findings: [StoredFinding]
    /// The image's inventory, stored once per content so a rescan matches it without reading
    /// layer facts (nil: not known, e.g. read back from history).
    public var inventory: Inventory?
    /// What reading the image found besides its inventory, kept with the image (by manifest
    /// digest) so that a scan of it again merges no layer (nil: nothing new to keep).
    public var reading: ImageReading?

    public init(
        name: String, image: ImageRecord, scannedAt: Date, advisoryVersion: String, findings: [StoredFinding], inventory: Inventory? = nil,
        reading: ImageReading? = nil
    ) {
        self.name = name
        self.image = image
        self.scannedAt = scannedAt
        self.advisoryVersion = advisoryVersion
        self.findings = findings
        self.inventory = inventory
        self.reading = reading
    }
}

/// What merging an image's layers found besides its packages: its OS, each layer's read summary
/// and warnings, and the merge's warnings. With the image's stored inventory it is all a report
/// needs, so an image whose manifest was read before is not merged again.
public struct ImageReading: Sendable, Hashable, Codable {
    public struct Layer: Sendable, Hashable, Codable {
        public var summary: LayerReadSummary
        public var warnings: [String]

        public init(summary: LayerReadSummary, warnings: [String]) {
            self.summary = summary
            self.warnings = warnings
        }
    }

    /// The analyzers' version the layers were read with (`LayerFacts.analyzerVersion`): a reading
    /// of older analyzers is not used.
    public var analyzerVersion: Int
    /// The key of the inventory the same reading made (the image's row may since name one an
    /// earlier release stored): a reading is used only with its own inventory.
    public var inventoryKey: String?
    public var os: OSRelease?
    public var layers: [Layer]
    public var filesystemWarnings: [String]

    public init(
        os: OSRelease?, layers: [Layer], filesystemWarnings: [String], inventoryKey: String? = nil,
        analyzerVersion: Int = LayerFacts.analyzerVersion
    ) {
        self.analyzerVersion = analyzerVersion
        self.inventoryKey = inventoryKey
        self.os = os
        self.layers = layers
        self.filesystemWarnings = filesystemWarnings
    }
}

/// An image's stored reading and the key of its stored inventory.
public struct StoredReading: Sendable {
    public var reading: ImageReading
    public var inventoryKey: String

    public init(reading: ImageReading, inventoryKey: String) {
        self.reading = reading
        self.inventoryKey = inventoryKey
    }

    /// Decodes a stored reading; nil for one this release cannot read, that older analyzers
    /// made, or that names no inventory (the image is then read from its layers' facts, as
    /// before readings were kept).
    public static func decode(_ bytes: [UInt8]?) -> StoredReading? {
        guard let bytes, let reading = try? JSONDecoder().decode(ImageReading.self, from: Data(bytes)),
            reading.analyzerVersion == LayerFacts.analyzerVersion, let inventoryKey = reading.inventoryKey
        else { return nil }
        return StoredReading(reading: reading, inventoryKey: inventoryKey)
    }
}

/// The newest scan of one name as a rescan pages through them: the image's inventory and the
/// digest of its findings, so an image whose inventory's findings did not change costs a
/// comparison and no decoding.
public struct ScanHead: Sendable {
    public var scanID: Int64
    public var name: String
    public var imageKey: String
    public var manifestDigest: Digest?
    public var advisoryVersion: String
    /// Nil for images scanned before inventories were stored (they are re-matched from layer facts).
    public var inventoryKey: String?
    public var findingsDigest: String?
    /// The stored `ImageRecord` JSON, decoded only when needed (`image()`).
    public var imageRecord: [UInt8]
    /// When the store first saw the image.
    public var firstSeen: Date?

    public init(
        scanID: Int64, name: String, imageKey: String, manifestDigest: Digest?, advisoryVersion: String, inventoryKey: String?,
        findingsDigest: String?, imageRecord: [UInt8], firstSeen: Date? = nil
    ) {
        self.firstSeen = firstSeen
        self.scanID = scanID
        self.name = name
        self.imageKey = imageKey
        self.manifestDigest = manifestDigest
        self.advisoryVersion = advisoryVersion
        self.inventoryKey = inventoryKey
        self.findingsDigest = findingsDigest
        self.imageRecord = imageRecord
    }

    public func image() throws -> ImageRecord {
        do {
            return try JSONDecoder().decode(ImageRecord.self, from: Data(imageRecord))
        } catch {
            throw FathomError(.invalidInput, "the stored image record cannot be read", image: name, cause: error)
        }
    }
}

extension StoredFinding {
    /// The digest of encoded findings, as scans store it for comparing.
    public static func digest(_ encoded: [UInt8]) -> String { Digest.sha256(of: encoded).encoded }
}

/// What the history keeps of the previous scan of a name, for comparing.
public struct PreviousScan: Sendable {
    public var scannedAt: Date
    public var imageKey: String
    public var manifestDigest: Digest?
    public var findings: [StoredFinding]

    public init(scannedAt: Date, imageKey: String, manifestDigest: Digest?, findings: [StoredFinding]) {
        self.scannedAt = scannedAt
        self.imageKey = imageKey
        self.manifestDigest = manifestDigest
        self.findings = findings
    }
}

/// What changed between two scans of one name.
public struct ScanChanges: Sendable, Codable, Hashable {
    public var previousScannedAt: Date?
    public var previousManifestDigest: Digest?
    public var imageChanged: Bool
    public var new: [StoredFinding]
    public var resolved: [StoredFinding]
    /// Findings of the previous scan that this one could not check (its OS no longer
    /// identified, its ecosystem's advisories gone): not resolved, and not said to be. Nil when
    /// none (and in documents written before it was kept).
    public var notChecked: [StoredFinding]?
    /// Findings unchanged but for their fixed version (the advisory moved its fix, or gave one):
    /// each with `previousFixedVersion`. Counted among the unchanged; nil when none.
    public var fixChanged: [StoredFinding]?
    public var unchanged: Int

    /// `aliasKeys` gives, by a finding's key, the keys in its package of the records merged
    /// into it: a finding the previous scan knew by another feed's id (PYSEC-2018-28 then,
    /// GHSA-x84v-xcm2-53pg with that record merged now) is the same vulnerability, neither new
    /// nor resolved.
    /// `unchecked` says of a previous finding whether this scan could not have found it again
    /// (its ecosystem went unchecked): it is then `notChecked`, not resolved.
    /// `installed` gives the versions of a finding's package (by ecosystem, name, and path where
    /// the finding has one) this scan found installed, to say why each resolved finding is
    /// (nil: not known, and not said).
    public init(
        previous: PreviousScan?, current image: ImageRecord, findings: [StoredFinding], aliasKeys: [String: [String]] = [:],
        unchecked: (StoredFinding) -> Bool = { _ in false }, installed: ((StoredFinding) -> [String])? = nil
    ) {
        previousScannedAt = previous?.scannedAt
        previousManifestDigest = previous?.manifestDigest
        imageChanged = previous.map { $0.imageKey != image.key } ?? false
        // Counted one for one, not as sets of keys: a second copy of a package (another
        // version, another path) with a finding the first one has is a new finding, and each
        // finding is new, resolved or unchanged once. A previous finding of the same key at the
        // same version (and path, where both scans kept one) is taken first, so an added copy
        // at another version or path is the new one.
        var remaining: [String: [StoredFinding]] = [:]
        for finding in previous?.findings ?? [] { remaining[finding.key, default: []].append(finding) }
        func keys(_ finding: StoredFinding) -> [String] { [finding.key] + aliasKeys[finding.key, default: []] }
        var unmatched: [StoredFinding] = []
        var refixed: [StoredFinding] = []
        var count = 0
        func same(_ previous: StoredFinding, _ finding: StoredFinding) -> Bool {
            previous.installedVersion == finding.installedVersion && (previous.path == nil || previous.path == finding.path)
        }
        for finding in findings {
            if let key = keys(finding).first(where: { remaining[$0]?.contains { same($0, finding) } == true }),
                let index = remaining[key]?.firstIndex(where: { same($0, finding) })
            {
                let before = remaining[key]!.remove(at: index)
                count += 1
                if before.fixedVersion != finding.fixedVersion {
                    var moved = finding
                    moved.previousFixedVersion = before.fixedVersion
                    refixed.append(moved)
                }
            } else {
                unmatched.append(finding)
            }
        }
        var added: [StoredFinding] = []
        for finding in unmatched {
            if let key = keys(finding).first(where: { remaining[$0]?.isEmpty == false }) {
                remaining[key]?.removeFirst()
                count += 1
            } else {
                added.append(finding)
            }
        }
        new = previous == nil ? [] : Self.sorted(added)
        // A previous finding under an id now merged into another (PYSEC-x into GHSA-y, both
        // found before) is that finding: neither resolved nor counted twice.
        let merged = Set(findings.flatMap { aliasKeys[$0.key, default: []] })
        let gone = remaining.values.joined().filter { !merged.contains($0.key) }
        // A version installed now that still has the finding (a second kernel, another copy)
        // is not where it was fixed.
        let stillFound = Set(findings.map { "\($0.key)\u{0}\($0.installedVersion)" })
        resolved = Self.sorted(
            gone.filter { !unchecked($0) }.map { finding in
                guard let installed else { return finding }
                var resolved = finding
                let versions = installed(finding).filter { !stillFound.contains("\(finding.key)\u{0}\($0)") }
                if versions.isEmpty {
                    resolved.resolution = .removed
                } else if versions.contains(finding.installedVersion) {
                    resolved.resolution = .advisory
                } else {
                    resolved.resolution = .upgraded
                    resolved.currentVersion = Set(versions).sorted().joined(separator: ", ")
                }
                return resolved
            })
        fixChanged = previous == nil || refixed.isEmpty ? nil : Self.sorted(refixed)
        let unknown = Self.sorted(gone.filter(unchecked))
        notChecked = unknown.isEmpty ? nil : unknown
        unchanged = previous == nil ? 0 : count
    }

    private static func sorted(_ findings: [StoredFinding]) -> [StoredFinding] {
        findings.sorted { ($0.key, $0.installedVersion, $0.path ?? "") < ($1.key, $1.installedVersion, $1.path ?? "") }
    }
}

/// One event from a registry's notification envelope (the CNCF registry's `events` list).
public struct RegistryEvent: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable {
        case push
        case pull
        case delete
        case mount
    }

    public var id: String
    public var action: Action
    public var repository: String
    public var tag: String?
    public var digest: Digest?
    public var mediaType: String?
    public var timestamp: Date
    /// The registry host the request was made to, as the registry saw it (not stored).
    public var host: String?

    public init(
        id: String, action: Action, repository: String, tag: String?, digest: Digest?, mediaType: String?, timestamp: Date,
        host: String? = nil
    ) {
        self.host = host
        self.id = id
        self.action = action
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.mediaType = mediaType
        self.timestamp = timestamp
    }
}

/// An inventory's findings as matched against one advisory generation.
public struct InventoryMatch: Sendable {
    public var inventoryKey: String
    public var generation: Int64
    public var findings: [Finding]

    public init(inventoryKey: String, generation: Int64, findings: [Finding]) {
        self.inventoryKey = inventoryKey
        self.generation = generation
        self.findings = findings
    }
}

/// What advisory imports changed: the (ecosystem, package) keys whose advisories were added,
/// removed or edited, as matching looks them up, and the vulnerability ids whose advisories or
/// CVSS scores changed (a finding of another feed may be rated by them).
public struct AdvisoryChanges: Sendable, Hashable {
    public struct PackageKey: Hashable, Sendable {
        public var ecosystem: String
        public var name: String

        public init(ecosystem: String, name: String) {
            self.ecosystem = ecosystem
            self.name = name
        }
    }

    public var packages: Set<PackageKey> = []
    public var ids: Set<String> = []

    public init(packages: Set<PackageKey> = [], ids: Set<String> = []) {
        self.packages = packages
        self.ids = ids
    }

    public var isEmpty: Bool { packages.isEmpty && ids.isEmpty }

    /// Adds what `record` names: the keys of its affected packages and its ids.
    public mutating func add(_ record: OSVRecord) {
        ids.insert(record.id)
        ids.formUnion(record.relatedIDs)
        for affected in record.affected ?? [] {
            guard let package = affected.package else { continue }
            packages.insert(Self.key(ecosystem: package.ecosystem, name: package.name))
        }
    }

    /// The key an advisory's package is looked up under (the release of a finer OSV ecosystem,
    /// the normalised name), as `StoredAdvisories` indexes it.
    public static func key(ecosystem: String, name: String) -> PackageKey {
        let release = OSNamespaces.release(of: ecosystem)
        return PackageKey(ecosystem: release, name: AdvisoryIndex.normalize(name, ecosystem: release))
    }
}

/// A job to queue: what to scan, and the key that makes it one pending job.
public struct NewJob: Sendable, Hashable {
    public var kind: Job.Kind
    /// At most one job per key is queued or running (a push scan: the image and its digest).
    public var key: String
    /// What to scan, as `fathom scan` names it (`host/repository:tag`, `…@sha256:…`).
    public var image: String
    public var repository: String?
    /// The tag, else the digest.
    public var reference: String?

    /// What the job needs besides the image (JSON: a request's policy, a Harbor scan's details).
    public var payload: String?
    /// How long after it is queued a worker may take it.
    public var delay: Duration

    public init(
        kind: Job.Kind, key: String, image: String, repository: String?, reference: String?, payload: String? = nil, delay: Duration = .zero
    ) {
        self.payload = payload
        self.delay = delay
        self.kind = kind
        self.key = key
        self.image = image
        self.repository = repository
        self.reference = reference
    }
}

/// A job of the service's queue.
public struct Job: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Scan an image (a push, or a request).
        case scan
        /// Re-match the stored images in the rescan window against the current advisories.
        case rescan
        /// Update the advisory data from its feeds (`db update`).
        case update
        /// Scan an image for Harbor (the pluggable scanner API), with the registry access its request brought.
        case harbor
    }

    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case queued, running, done, dead
    }

    public var id: Int64
    public var kind: Kind
    public var image: String
    public var repository: String?
    public var reference: String?
    public var state: State
    public var attempts: Int
    public var worker: String?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// When a worker first took it: what its attempts recorded is at or after this (a job of
    /// the same name queued before it has ended by then, since they run in turn).
    public var startedAt: Date?
    /// What the job needs besides the image (JSON), as queued; once the job is done or dead,
    /// without its `secretPayloadField`.
    public var payload: String?
    /// What makes it one job however often it is asked for (`scan NAME@DIGEST`): a pending job
    /// of the same key takes no second.
    public var key: String?

    /// The payload's member that holds a secret only the job's run needs (a Harbor scan's sealed
    /// registry authorization): the store drops it when the job ends, done or dead, so an
    /// authorization is not kept, even sealed, past its use.
    public static let secretPayloadField = "sealedAuthorization"

    /// Attempts a job has before it is dead (`--max-attempts`).
    public static let defaultMaxAttempts = 5

    /// The `lastError` of a job whose lease ran out, either side of its worker's name (the
    /// store joins them): its worker stopped without a word.
    public static let leaseRanOut = (
        before: "its worker (",
        after: ") stopped answering while it ran, and its lease ran out: killed, out of memory, or cut off from the store"
    )

    public init(
        id: Int64, kind: Kind, image: String, repository: String?, reference: String?, state: State, attempts: Int, worker: String?,
        lastError: String?, createdAt: Date, updatedAt: Date, startedAt: Date? = nil, payload: String? = nil, key: String? = nil
    ) {
        self.payload = payload
        self.key = key
        self.startedAt = startedAt
        self.id = id
        self.kind = kind
        self.image = image
        self.repository = repository
        self.reference = reference
        self.state = state
        self.attempts = attempts
        self.worker = worker
        self.lastError = lastError
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

extension ScanSummary {
    /// The summaries of a name's scans (time, manifest digest, advisory version, findings), oldest
    /// first as given: each with what is new and resolved since the one before.
    package static func history(name: String, scans: [(Date, String?, String, [StoredFinding])]) -> [ScanSummary] {
        var previous: Set<String> = []
        var summaries: [ScanSummary] = []
        for (index, scan) in scans.enumerated() {
            let keys = Set(scan.3.map(\.key))
            var bySeverity: [String: Int] = [:]
            for finding in scan.3 { bySeverity[finding.severity, default: 0] += 1 }
            summaries.append(
                ScanSummary(
                    name: name, manifestDigest: scan.1, scannedAt: scan.0, advisoryVersion: scan.2, findings: scan.3.count,
                    bySeverity: bySeverity, new: index == 0 ? 0 : keys.subtracting(previous).count,
                    resolved: index == 0 ? 0 : previous.subtracting(keys).count))
            previous = keys
        }
        return summaries
    }
}

/// One scan of a name as the API lists a history.
public struct ScanSummary: Sendable, Hashable, Codable {
    public var name: String
    public var manifestDigest: String?
    public var scannedAt: Date
    public var advisoryVersion: String
    public var findings: Int
    public var bySeverity: [String: Int]
    /// Findings not in the previous scan of the name, and those gone since.
    public var new: Int
    public var resolved: Int

    public init(
        name: String, manifestDigest: String?, scannedAt: Date, advisoryVersion: String, findings: Int, bySeverity: [String: Int], new: Int,
        resolved: Int
    ) {
        self.name = name
        self.manifestDigest = manifestDigest
        self.scannedAt = scannedAt
        self.advisoryVersion = advisoryVersion
        self.findings = findings
        self.bySeverity = bySeverity
        self.new = new
        self.resolved = resolved
    }
}

/// A notification to POST to a receiver.
public struct OutgoingNotification: Sendable, Hashable {
    /// Stable across retries, for the receiver to drop duplicates.
    public var deliveryID: String
    public var url: String
    public var body: [UInt8]
    /// Attempts made before this one.
    public var attempts: Int

    public init(deliveryID: String, url: String, body: [UInt8], attempts: Int = 0) {
        self.deliveryID = deliveryID
        self.url = url
        self.body = body
        self.attempts = attempts
    }
}

/// The fleet's findings at the end of one day: every name counted by its newest scan by then
/// (`findingTrend`), or by its newest listed report (`fleetTrend`).
public struct TrendPoint: Sendable, Hashable, Codable {
    /// The day (UTC), as `YYYY-MM-DD`.
    public var day: String
    public var images: Int
    public var findings: Int
    public var bySeverity: [String: Int]
}

/// Folds the scan history, in time order, into one `TrendPoint` per day it has scans on; memory
/// is one count per name.
public struct TrendBuilder: Sendable {
    private var current: [String: [String: Int]] = [:]
    private var totals: [String: Int] = [:]
    private var day: String?
    public private(set) var points: [TrendPoint] = []

    public init() {}

    /// The UTC day of `date`, as `YYYY-MM-DD`.
    public static func day(of date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()

    static let dayFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    public mutating func add(name: String, at date: Date, findings: [StoredFinding]) {
        let scanDay = Self.dayFormatter.string(from: date)
        if let day, day != scanDay { close(day) }
        day = scanDay
        for (severity, count) in current[name] ?? [:] { totals[severity, default: 0] -= count }
        var counts: [String: Int] = [:]
        for finding in findings { counts[finding.severity, default: 0] += 1 }
        for (severity, count) in counts { totals[severity, default: 0] += count }
        current[name] = counts
    }

    /// The points, the last day included.
    public mutating func finish() -> [TrendPoint] {
        if let day { close(day) }
        day = nil
        return points
    }

    private mutating func close(_ day: String) {
        let bySeverity = totals.filter { $0.value > 0 }
        points.append(TrendPoint(day: day, images: current.count, findings: bySeverity.values.reduce(0, +), bySeverity: bySeverity))
    }
}

/// One day's share of the fleet totals' moves (`fleetTrend`): images and findings by severity
/// (in `ImageRow.severities` order) added that day, less those removed. What the totals held
/// before the days were kept is the first day's (the upgrade's): earlier history is one point.
public struct FleetDay: Sendable {
    public var day: String
    public var images: Int
    public var bySeverity: [Int]

    public init(day: String, images: Int, bySeverity: [Int]) {
        self.day = day
        self.images = images
        self.bySeverity = bySeverity
    }

    /// The totals at the end of each of `days` (oldest first), counted back from the totals
    /// `now` (its day unused): the newest point is always the fleet's sums, even where a
    /// writer that kept no days (an earlier fathom during an upgrade) moved them; such a move
    /// shifts only the points before it.
    public static func trend(_ days: [FleetDay], now: FleetDay) -> [TrendPoint] {
        var images = now.images
        var totals = now.bySeverity
        var points: [TrendPoint] = []
        for day in days.reversed() {
            var counts: [String: Int] = [:]
            for (severity, count) in zip(ImageRow.severities, totals) where count > 0 { counts[severity] = count }
            points.append(TrendPoint(day: day.day, images: max(0, images), findings: counts.values.reduce(0, +), bySeverity: counts))
            images -= day.images
            for index in totals.indices where index < day.bySeverity.count { totals[index] -= day.bySeverity[index] }
        }
        return points.reversed()
    }
}
