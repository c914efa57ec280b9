// Reads advisory feeds from files, directories, `.zip` and `.tar.gz` exports, recognising
// each document's format: OSV (JSON/YAML), CSAF 2.0 (Red Hat, Rocky), Alpine secdb (JSON/YAML),
// Wolfi's advisory YAML, Debian security tracker
// JSON, NVD CVE API 2.0 JSON (feed files and API pages), a severity source, and CISA's KEV
// catalog and FIRST's EPSS CSV, exploitation data.
import FathomCore
import FathomArchive
import Foundation
import Yams

/// What reading a feed found.
public struct FeedContents: Sendable {
    public var records: [OSVRecord] = []
    /// CVSS scores by vulnerability id from a severity source (NVD), not advisories.
    public var scores: [String: [CVSSScore]] = [:]
    /// Exploitation data by CVE id (CISA KEV, FIRST EPSS), not advisories.
    public var exploitation: [String: Exploitation] = [:]
    /// Documents that could not be read, each with a plain reason; the rest still imports.
    public var warnings: [String] = []
    /// Documents read that hold no advisories (an empty file, a feed that lists nothing), and
    /// the non-security errata left out (one line for them all).
    public var notes: [String] = []
    /// Documents read as feeds (with or without advisories).
    public var documents = 0
    /// Records left out by rule (non-security errata, RustSec notices, other systems): a feed
    /// that shrank by these lost no advisory.
    public var skippedRecords = 0

    public init() {}
}

extension FeedContents {
    /// Adds another path's contents (one feed read from several files).
    public mutating func add(_ other: FeedContents) {
        records += other.records
        scores.merge(other.scores) { $0 + $1 }
        exploitation.merge(other.exploitation) { $0.merging($1) }
        warnings += other.warnings
        notes += other.notes
        documents += other.documents
        skippedRecords += other.skippedRecords
    }
}

public enum FeedReader {
    /// Every record under `path`, with what could not be read (a bad document never stops the
    /// rest; the caller decides whether warnings fail the import).
    public static func read(_ path: String) async throws -> FeedContents {
        var contents = FeedContents()
        var skipped: [Skipped: [String]] = [:]
        // The names of records skipped as notices or for other systems, with their packages:
        // another database's record of the same flaw (GitHub's GHSA twin of a RustSec notice
        // in OSV's crates.io export) is skipped with it.
        var skippedNames: [String: (reason: Skipped, packages: Set<String>)] = [:]
        func document(_ name: String, _ bytes: [UInt8]) {
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                contents.notes.append("\(name): empty file")
                return
            }
            do {
                let parsed = try FeedReader.parse(bytes, name: name)
                contents.documents += 1
                contents.notes += parsed.notes
                skipped.merge(parsed.skipped) { $0 + $1 }
                skippedNames.merge(parsed.skippedNames) { first, _ in first }
                if parsed.records.isEmpty && parsed.scores.isEmpty && parsed.exploitation.isEmpty && parsed.skipped.isEmpty {
                    contents.notes.append(
                        parsed.exploitationOnly
                            ? "\(name): holds no exploitation data (an empty catalog or score list)"
                            : parsed.scoresOnly
                            ? "\(name): holds no CVSS score (not scored yet, or rejected)"
                            : "\(name): holds no advisory that affects a package (none, or only not-affected determinations)")
                }
                contents.records += parsed.records
                contents.scores.merge(parsed.scores) { $0 + $1 }
                contents.exploitation.merge(parsed.exploitation) { $0.merging($1) }
            } catch {
                contents.warnings.append("\(name): \(error)")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FathomError(.notFound, "no advisory feed at this path", path: path)
        }
        if isDirectory.boolValue {
            let enumerator = FileManager.default.enumerator(atPath: path)
            while let relative = enumerator?.nextObject() as? String {
                guard [".json", ".yaml", ".yml", ".json.gz", ".csv", ".csv.gz"].contains(where: relative.hasSuffix) else { continue }
                document(path + "/" + relative, try Self.file(path + "/" + relative))
            }
        } else if path.hasSuffix(".zip") {
            let zip = try ZipArchive([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
            for member in zip.members where member.name.hasSuffix(".json") || member.name.hasSuffix(".yaml") {
                document(path + "!/" + member.name, try zip.read(member, limit: ByteLimits.document))
            }
        } else if path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz") || path.hasSuffix(".tar") {
            struct Collector: TarEntryHandler {
                var documents: [(String, [UInt8])] = []
                mutating func claim(_ entry: TarEntry) -> TarBodyClaim {
                    entry.kind == .file && (entry.path.hasSuffix(".json") || entry.path.hasSuffix(".yaml")) ? .collect(limit: ByteLimits.document) : .skip
                }
                mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws {
                    if complete { documents.append((entry.path, body)) }
                }
            }
            var collector = Collector()
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? file.close() }
            let stream = ByteStream {
                { try file.read(upToCount: 1 << 20).map { [UInt8]($0) } }
            }
            do {
                _ = try await LayerReader.read(stream, expecting: LayerExpectation(digest: nil, size: nil), handler: &collector)
            } catch let error as FathomError {
                // A feed archive is not an image layer: name the file, not the digest the reader computed.
                var named = error
                named.layer = nil
                named.path = path
                throw named
            }
            for (name, bytes) in collector.documents { document(path + "!/" + name, bytes) }
        } else {
            document(path, try Self.file(path))
        }
        if !skippedNames.isEmpty {
            contents.records.removeAll { record in
                let packages = Set((record.affected ?? []).compactMap { $0.package?.name })
                guard let twin = ([record.id] + (record.aliases ?? []) + (record.upstream ?? [])).lazy.compactMap({ skippedNames[$0] }).first,
                    !twin.packages.isDisjoint(with: packages)
                else { return false }
                skipped[twin.reason, default: []].append(record.id)
                return true
            }
        }
        contents.skippedRecords = skipped.values.reduce(0) { $0 + $1.count }
        for reason in Skipped.allCases {
            guard let ids = skipped[reason], !ids.isEmpty else { continue }
            contents.notes.append(
                "\(path): \(ids.count) \(reason.phrase): skipped (" + ids.prefix(3).joined(separator: ", ") + (ids.count > 3 ? ", …" : "") + ")")
        }
        return contents
    }

    /// A document file's bytes; `.json.gz` (NVD's feed files) expanded within the document limit.
    static func file(_ path: String) throws -> [UInt8] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard path.hasSuffix(".gz") else { return bytes }
        do {
            return try Gzip.decompress(bytes, limit: ByteLimits.feedFile)
        } catch {
            throw FathomError(.invalidInput, "not a readable gzip file", path: path, cause: error)
        }
    }

    /// What one document holds: advisories, or a severity source's scores.
    struct Parsed {
        var records: [OSVRecord] = []
        var scores: [String: [CVSSScore]] = [:]
        var exploitation: [String: Exploitation] = [:]
        /// Things worth saying that do not stop the document (NVD scores its vectors contradict).
        var notes: [String] = []
        /// A severity source's document (NVD's), which holds scores and never advisories.
        var scoresOnly = false
        /// Exploitation data's document (CISA KEV, EPSS), which holds no advisories.
        var exploitationOnly = false
        /// Records left out, by why, by id.
        var skipped: [Skipped: [String]] = [:]
        /// The ids and aliases of the records skipped as notices or for other systems.
        var skippedNames: [String: (reason: Skipped, packages: Set<String>)] = [:]
    }

    /// Why a record is not imported as an advisory.
    enum Skipped: CaseIterable {
        /// `OSVRecord.isNonSecurityErratum`.
        case nonSecurityErratum
        /// RustSec's informational notices (`unmaintained`, `notice`): no flaw in the code.
        case informational
        /// Only for operating systems other than Linux (RustSec's `affects.os`).
        case otherOS

        var phrase: String {
            switch self {
            case .nonSecurityErratum: "bug-fix or enhancement errata naming no CVE are no security advisories"
            case .informational: "informational notices (a crate unmaintained, a notice) name no vulnerability, as cargo-audit reports them apart"
            case .otherOS: "advisories only for other operating systems than Linux (a container's)"
            }
        }
    }

    static func parse(_ bytes: [UInt8], name: String) throws -> Parsed {
        if ExploitationImport.isEPSS(bytes) { return Parsed(exploitation: try ExploitationImport.epss(bytes, file: name), exploitationOnly: true) }
        // NVD's documents name their format in the first keys; sniffing spares every OSV
        // document a second parse.
        if !(name.hasSuffix(".yaml") || name.hasSuffix(".yml")), NVDImport.sniff(bytes) || NVDImport.sniffRecord(bytes) {
            let (scores, notes) = try NVDImport.scores(bytes, file: name)
            return Parsed(scores: scores, notes: notes, scoresOnly: true)
        }
        // The catalog names its version in its first keys.
        if !(name.hasSuffix(".yaml") || name.hasSuffix(".yml")), String(decoding: bytes.prefix(400), as: UTF8.self).contains("\"catalogVersion\"") {
            return Parsed(exploitation: try ExploitationImport.kev(bytes, file: name), exploitationOnly: true)
        }
        // A distribution's bug-fix or enhancement erratum (AlmaLinux's ALBA-, Rocky's RLEA-…)
        // fixes no vulnerability: reported, it failed an --exit-code gate over a plain update.
        var parsed = Parsed()
        for record in try parseDocument(bytes, name: name) {
            if record.isNonSecurityErratum {
                parsed.skipped[.nonSecurityErratum, default: []].append(record.id)
                continue
            }
            // Affected entries that are a notice, or for other systems, are left out; a record
            // left with none is skipped and said.
            guard let affected = record.affected, !affected.isEmpty else {
                parsed.records.append(record)
                continue
            }
            let notices = affected.filter(\.isInformationalNotice)
            let elsewhere = affected.filter { !$0.isInformationalNotice && !$0.affectsLinux }
            guard notices.count + elsewhere.count < affected.count else {
                let reason: Skipped = notices.isEmpty ? .otherOS : .informational
                parsed.skipped[reason, default: []].append(record.id)
                let packages = Set(affected.compactMap { $0.package?.name })
                for name in [record.id] + (record.aliases ?? []) { parsed.skippedNames[name] = (reason, packages) }
                continue
            }
            var kept = record
            if !notices.isEmpty || !elsewhere.isEmpty { kept.affected = affected.filter { !$0.isInformationalNotice && $0.affectsLinux } }
            parsed.records.append(kept)
        }
        return parsed
    }

    /// Parses one document, deciding its format from its shape.
    public static func parseDocument(_ bytes: [UInt8], name: String) throws -> [OSVRecord] {
        let isYAML = name.hasSuffix(".yaml") || name.hasSuffix(".yml")
        let object: Any?
        do {
            if isYAML {
                object = try BoundedYAML.compose(String(decoding: bytes, as: UTF8.self))?.any
            } else {
                object = try JSONSerialization.jsonObject(with: Data(bytes))
            }
        } catch {
            throw FathomError(.invalidInput, "not valid \(isYAML ? "YAML" : "JSON") (\(plainReason(error)))")
        }
        guard let dictionary = object as? [String: Any] else {
            throw FathomError(.invalidInput, "not an advisory document (expected an object)")
        }
        if dictionary["distroversion"] != nil && dictionary["packages"] != nil {
            return try AdvisoryImport.alpineSecdb(bytes, file: name)
        }
        if dictionary["schema-version"] != nil, dictionary["package"] is [String: Any], dictionary["advisories"] != nil {
            return try AdvisoryImport.wolfi(dictionary, file: name)
        }
        if dictionary["id"] is String && (dictionary["affected"] != nil || dictionary["modified"] != nil) {
            return [try AdvisoryImport.osv(bytes, file: name)]
        }
        if AdvisoryImport.isCSAF(dictionary) { return try AdvisoryImport.csaf(dictionary, file: name) }
        if isDebianTracker(dictionary) { return try AdvisoryImport.debianTracker(bytes, file: name) }
        if dictionary["CVE_Items"] != nil {
            throw FathomError(
                .unsupported, "NVD's 1.1 JSON feeds were retired in 2023; use the CVE API 2.0 files (nvdcve-2.0-*.json.gz)")
        }
        if ExploitationImport.isKEV(dictionary) {
            throw FathomError(.invalidInput, "CISA's KEV catalog ranks findings, it holds no advisories (import it as a feed)")
        }
        if NVDImport.isNVD(dictionary) {
            throw FathomError(.invalidInput, "NVD CVE JSON holds CVSS scores, not advisories (import it as a feed)")
        }
        throw FathomError(.invalidInput, "not OSV, CSAF 2.0, Alpine secdb, Wolfi advisory YAML, Debian tracker or NVD CVE 2.0 JSON")
    }

    /// A parser's reason in one short printable line: Foundation's own words without its error
    /// domain, and never the document's bytes echoed back raw.
    static func plainReason(_ error: any Error) -> String {
        let text = ((error as NSError).userInfo["NSDebugDescription"] as? String) ?? "\(error)"
        var line = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !line.hasSuffix(" ") { line.append(" ") }
            } else if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{FFFD}" {
                line.append("?")
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        line = line.trimmingCharacters(in: .whitespaces)
        return line.count > 160 ? String(line.prefix(160)) + "…" : line
    }

    static func isDebianTracker(_ dictionary: [String: Any]) -> Bool {
        guard let (_, first) = dictionary.first, let entries = first as? [String: Any] else { return false }
        return entries.keys.contains { $0.hasPrefix("CVE-") || $0.hasPrefix("TEMP-") }
    }
}

extension AdvisoryImport {
    /// Debian releases by code name.
    static let debianReleases = ["buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"]

    /// The Debian security tracker's JSON (`{source: {CVE: {releases: {codename: {status,
    /// fixed_version, urgency, nodsa_reason}}}}}`). Resolved issues get a fixed range; open
    /// ones an open range with the tracker's status kept (`debianStatus`); unimportant issues are
    /// kept with their urgency. `fixed_version` "0" means the release was never affected.
    public static func debianTracker(_ bytes: [UInt8], file: String) throws -> [OSVRecord] {
        struct Release: Decodable {
            var status: String?
            var fixed_version: String?
            var urgency: String?
            var nodsa: String?
            var nodsa_reason: String?
        }
        struct Issue: Decodable {
            var description: String?
            var releases: [String: Release]?
        }
        let document: [String: [String: Issue]]
        do {
            document = try JSONDecoder().decode([String: [String: Issue]].self, from: Data(bytes))
        } catch {
            throw FathomError(.invalidInput, "not Debian security tracker JSON", path: file, cause: error)
        }
        var records: [OSVRecord] = []
        for (source, issues) in document {
            for (cve, issue) in issues {
                for (codename, release) in issue.releases ?? [:] {
                    guard let number = debianReleases[codename] else { continue }
                    let status = release.status ?? "undetermined"
                    var events: [OSVRecord.Event] = [.init(introduced: "0")]
                    switch status {
                    case "resolved":
                        guard let fixed = release.fixed_version, fixed != "0" else { continue }
                        events.append(.init(fixed: fixed))
                    case "open", "undetermined":
                        break
                    default:
                        continue
                    }
                    let urgency = release.urgency ?? "not yet assigned"
                    var specific: [String: JSONValue] = ["urgency": .string(urgency), "status": .string(status)]
                    if release.nodsa != nil { specific["no_dsa"] = .bool(true) }
                    if let reason = release.nodsa_reason { specific["no_dsa_reason"] = .string(reason) }
                    if status != "resolved" {
                        let (vendorStatus, words) = Self.debianStatus(status: status, urgency: urgency, release: release.nodsa, reason: release.nodsa_reason)
                        specific["fathom_status"] = .string(vendorStatus.rawValue)
                        specific["vendor_status"] = .string(words)
                    }
                    var affected = OSVRecord.Affected(
                        package: .init(ecosystem: "Debian:\(number)", name: source),
                        ranges: [.init(type: "ECOSYSTEM", events: events)])
                    affected.databaseSpecific = .object(specific)
                    records.append(
                        OSVRecord(
                            id: "DEBIAN-\(cve)-\(source)-\(codename)", aliases: [cve], summary: issue.description,
                            affected: [affected], references: [.init(type: "ADVISORY", url: "https://security-tracker.debian.org/tracker/\(cve)")]))
                }
            }
        }
        return records.sorted { $0.id < $1.id }
    }

    /// The status of an open issue in a release, as the tracker words it: `no-dsa` (a minor
    /// issue left to a point release) and `postponed` put the fix off, `ignored` means it will
    /// not be fixed, an `end-of-life` urgency that the package is no longer supported there, and
    /// `undetermined` that Debian has not looked yet.
    static func debianStatus(status: String, urgency: String, release nodsa: String?, reason: String?) -> (Finding.Status, String) {
        if urgency == "end-of-life" { return (.endOfLife, "end-of-life") }
        if status == "undetermined" { return (.underInvestigation, "undetermined") }
        switch reason {
        case "ignored": return (.willNotFix, "no-dsa: ignored")
        case "postponed": return (.fixDeferred, "no-dsa: postponed")
        case let other? where !other.isEmpty: return (.fixDeferred, "no-dsa: \(other)")
        default: return nodsa != nil ? (.fixDeferred, "no-dsa") : (.affected, status)
        }
    }
}

extension AdvisoryImport {
    /// Wolfi's advisory YAML (wolfi-dev/advisories, schema 2: `package.name`, and per advisory
    /// an `id` (CGA-…), `aliases` and ordered `events`). The latest event decides, as the
    /// project's `docs/event_types.md` defines them: `fixed` (its `fixed-version`) closes the
    /// range; `false-positive-determination` means the package is not affected (no record);
    /// `pending-upstream-fix` is a deferred fix; `fix-not-planned` will not be fixed;
    /// `true-positive-determination` is affected; `detection` is still being investigated.
    /// Records name the origin package under the ecosystem `Wolfi`.
    public static func wolfi(_ document: [String: Any], file: String) throws -> [OSVRecord] {
        guard let package = (document["package"] as? [String: Any])?["name"] as? String, !package.isEmpty else {
            throw FathomError(.invalidInput, "a Wolfi advisory document without package.name", path: file)
        }
        guard let advisories = document["advisories"] as? [[String: Any]] else {
            if document["advisories"] is NSNull { return [] }
            throw FathomError(.invalidInput, "a Wolfi advisory document whose advisories are not a list", path: file)
        }
        var records: [OSVRecord] = []
        for (index, advisory) in advisories.enumerated() {
            guard let id = advisory["id"] as? String, let events = advisory["events"] as? [[String: Any]], let last = events.last,
                let type = last["type"] as? String
            else {
                throw FathomError(.invalidInput, "\(package): advisory \(index + 1) has no id or no events", path: file)
            }
            let data = last["data"] as? [String: Any]
            var rangeEvents: [OSVRecord.Event] = [.init(introduced: "0")]
            var specific: [String: JSONValue] = ["wolfi_event": .string(type)]
            switch type {
            case "fixed":
                guard let fixed = data?["fixed-version"] as? String ?? (data?["fixed-version"]).map({ "\($0)" }) else {
                    throw FathomError(.invalidInput, "\(package) \(id): a fixed event without fixed-version", path: file)
                }
                rangeEvents.append(.init(fixed: fixed))
            case "false-positive-determination":
                continue
            case "pending-upstream-fix":
                specific["fathom_status"] = .string(Finding.Status.fixDeferred.rawValue)
                specific["vendor_status"] = .string("pending-upstream-fix")
            case "fix-not-planned":
                specific["fathom_status"] = .string(Finding.Status.willNotFix.rawValue)
                specific["vendor_status"] = .string("fix-not-planned")
            case "true-positive-determination":
                specific["vendor_status"] = .string("true-positive-determination")
            case "detection":
                specific["fathom_status"] = .string(Finding.Status.underInvestigation.rawValue)
                specific["vendor_status"] = .string("detection")
            default:
                throw FathomError(.invalidInput, "\(package) \(id): unknown event type '\(type)'", path: file)
            }
            var affected = OSVRecord.Affected(
                package: .init(ecosystem: "Wolfi", name: package), ranges: [.init(type: "ECOSYSTEM", events: rangeEvents)])
            affected.databaseSpecific = .object(specific)
            let aliases = (advisory["aliases"] as? [String]) ?? []
            records.append(OSVRecord(id: id, aliases: aliases, affected: [affected]))
        }
        return records
    }
}
