public import FathomInventory
import FathomCore
import FathomVersion
import Foundation

/// One vulnerability in one installed package.
public struct Finding: Sendable, Hashable, Codable {
    /// What the vendor says of the vulnerability in this package (the words Trivy's
    /// `--ignore-status` uses).
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// A fixed version exists.
        case fixed
        /// Affected, and no fix yet (Ubuntu's and Debian's "needed"/"open", Red Hat's "Affected").
        case affected
        /// The vendor will not fix it (Debian's "ignored", Red Hat's "Will not fix").
        case willNotFix = "will_not_fix"
        /// A fix is put off to a later update (Debian's no-dsa and "postponed", Ubuntu's "deferred").
        case fixDeferred = "fix_deferred"
        /// The package is no longer supported in the release (Debian's "end-of-life").
        case endOfLife = "end_of_life"
        /// The vendor has not decided yet whether it is affected (Debian's "undetermined").
        case underInvestigation = "under_investigation"

        public init(from decoder: any Decoder) throws {
            let raw = try decoder.singleValueContainer().decode(String.self)
            switch raw {
            // The words of reports and findings stored before statuses were kept.
            case "not-fixed": self = .affected
            case "will-not-fix": self = .willNotFix
            default:
                guard let status = Status(rawValue: raw) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown status '\(raw)'"))
                }
                self = status
            }
        }

        /// Parses `--ignore-status`'s list (`will_not_fix,fix_deferred`); an unknown word is an
        /// error naming the known ones.
        public static func list(_ text: String) throws -> Set<Status> {
            var statuses = Set<Status>()
            for word in text.split(separator: ",") {
                let trimmed = word.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
                guard let status = Status(rawValue: trimmed) else {
                    throw FathomError(
                        .invalidInput, "unknown status '\(word)': use \(Status.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                statuses.insert(status)
            }
            return statuses
        }
    }

    public var id: String
    public var aliases: [String]
    public var ecosystem: String
    public var package: String
    /// The source package (dpkg Source, apk origin, rpm SOURCERPM name), for OS packages.
    public var sourcePackage: String?
    public var installedVersion: String
    public var fixedVersion: String?
    public var status: Status
    public var severity: Severity
    /// The feed the severity came from (the advisory's own, or the source of the CVSS score
    /// it fell back to); nil when no source rates it.
    public var severitySource: String?
    /// Every CVSS score known for the vulnerability, from every source.
    public var cvss: [CVSSScore]
    /// Index of the layer that introduced the package.
    public var layerIndex: Int
    public var path: String
    /// The feed the advisory came from.
    public var source: String
    public var title: String?
    public var references: [String]
    /// The package's architecture, as its database gives it (a purl qualifier VEX may compare).
    public var arch: String? = nil
    /// The vendor's own words for the status (`no-dsa: postponed`, `undetermined`), when the
    /// feed says more than "fixed" or "open".
    public var vendorStatus: String? = nil
    /// Debian rates it `unimportant` (no security impact in Debian's build, or not shipped):
    /// left out unless `--include-unimportant`.
    public var unimportant: Bool? = nil
    /// CISA lists the vulnerability (by its id or an alias) as exploited in the wild.
    public var kev: KEVEntry? = nil
    /// FIRST's EPSS score of the vulnerability (the highest among its ids).
    public var epss: EPSSScore? = nil
    /// The ids of other feeds' records of the same vulnerability merged into this finding
    /// (`ImageMatcher.oneByAlias`), among its aliases: a scan that knew it by one of them
    /// knew this finding. Not the aliases merely named (a record's other CVEs, `related`).
    public var merged: [String]? = nil
    /// The name the advisories were looked up under when it is not `package`'s own: a Java
    /// archive that names no group, matched as the one `group:artifact` the advisories name its
    /// artifact with (`AdvisoryLookup.mavenName(ofArtifact:)`). An inference the report shows.
    public var matchedAs: String? = nil
}

/// The vendor status of a match, from what the feed keeps in the affected entry's
/// `database_specific` (`fathom_status`/`vendor_status` written by fathom's importers; the
/// `will_not_fix` flag of feeds imported before them) and the Debian urgency OSV's Debian
/// records keep in `ecosystem_specific` (`unimportant`, `end-of-life`).
public enum VendorStatus {
    public static func of(_ match: AdvisoryIndex.Match) -> (status: Finding.Status, words: String?, unimportant: Bool) {
        let specific = match.affected.databaseSpecific
        // OSV's own Debian records keep the tracker's urgency in `ecosystem_specific`.
        let urgency = specific?["urgency"] ?? match.affected.ecosystemSpecific?["urgency"]
        let unimportant = urgency == .string("unimportant")
        let words: String? = if case .string(let text)? = specific?["vendor_status"] { text } else { nil }
        if match.fixedVersion != nil { return (.fixed, nil, unimportant) }
        if case .string(let raw)? = specific?["fathom_status"], let status = Finding.Status(rawValue: raw) {
            return (status, words, unimportant)
        }
        if urgency == .string("end-of-life") { return (.endOfLife, "end-of-life", unimportant) }
        if specific?["will_not_fix"] == .bool(true) && !unimportant { return (.willNotFix, words, unimportant) }
        return (.affected, words, unimportant)
    }
}

/// Matches an image's packages against an index.
public enum ImageMatcher {
    /// Bumped whenever matching or rating changes what it finds for the same packages and
    /// advisories: findings stored by another version are not reused.
    public static let version = 13  // 13: a secdb entry of one id that is no CVE reported by that id (XSA-207); 12: a distribution's record of one CVE reported as that CVE, and one finding with another feed's record of it; a notice's CVE records name their CVEs; 11: a USN rated by Ubuntu's priorities of its CVEs; 10: a groupless jar's finding names the group it was matched as (`matchedAs`); OS packages of another type than the release's match nothing; 9: a Java archive's artifact without a group takes the one the advisories name; Red Hat-family errata rated by their synopsis; 2: findings carry the package's arch; 3: references de-duplicated, advisory page first; 4: vendor statuses; 5: KEV and EPSS; 6: related CVEs, USNs folded; 7: aliased records one finding; 8: with the highest of their fixes; an installed PyPI version that is not PEP 440 in no range

    /// Prepares the lookup for these packages, then matches them.
    public static func findings(
        _ packages: [InventoryEntry], osNamespace: String?, lookup: any AdvisoryLookup, cache: MatchCache? = nil
    ) async throws -> [Finding] {
        try await lookup.prepare(packages.map { lookup.matchedAs($0.package) }, osNamespace: osNamespace)
        let matched = findings(packages, osNamespace: osNamespace, index: lookup, cache: cache)
        let ids = Set(matched.flatMap { [$0.id] + $0.aliases })
        guard !ids.isEmpty else { return matched }
        let scored = rated(matched, scores: try await lookup.scores(for: ids))
        return exploited(scored, facts: try await lookup.exploitation(for: ids))
    }

    /// Each finding with what KEV and EPSS say of its id or any alias, in report order.
    public static func exploited(_ findings: [Finding], facts: [String: Exploitation]) -> [Finding] {
        guard !facts.isEmpty else { return findings }
        return sorted(findings.map { finding in
            var finding = finding
            for id in [finding.id] + finding.aliases {
                guard let known = facts[id] else { continue }
                if finding.kev == nil { finding.kev = known.kev }
                if let epss = known.epss, epss.score > finding.epss?.score ?? -1 { finding.epss = epss }
            }
            return finding
        })
    }

    /// Adds the other sources' CVSS scores of each finding's vulnerability (by id and alias),
    /// and ranks a finding its own feed does not rate by the preferred of them.
    public static func rated(_ findings: [Finding], scores: [String: [CVSSScore]]) -> [Finding] {
        sorted(findings.map { finding in
            var finding = finding
            for id in [finding.id] + finding.aliases {
                for score in scores[id] ?? [] where !finding.cvss.contains(score) { finding.cvss.append(score) }
            }
            if finding.severity == .unknown, let best = finding.cvss.min(by: CVSSScore.preferred), best.severity != .unknown {
                finding.severity = best.severity
                finding.severitySource = best.source
            }
            return finding
        })
    }

    /// Findings in report order: what attackers exploit (CISA KEV) first, then the most severe,
    /// and within a severity the likelier to be exploited (EPSS) first; then by package and id
    /// (and, for the same package installed twice, by version, path and layer, so that the
    /// order is total).
    public static func sorted(_ findings: [Finding]) -> [Finding] {
        findings.sorted { a, b in
            if (a.kev != nil) != (b.kev != nil) { return a.kev != nil }
            if a.severity != b.severity { return a.severity > b.severity }
            if a.epss?.score != b.epss?.score { return (a.epss?.score ?? -1) > (b.epss?.score ?? -1) }
            return (a.package, a.id, a.installedVersion, a.path, a.layerIndex, a.source)
                < (b.package, b.id, b.installedVersion, b.path, b.layerIndex, b.source)
        }
    }

    public static func findings(
        _ packages: [InventoryEntry], osNamespace: String?, index: any AdvisoryLookup, cache: MatchCache? = nil
    ) -> [Finding] {
        var findings: [Finding] = []
        for entry in packages {
            let lookedUp = index.matchedAs(entry.package)
            let matches = cache?.matches(lookedUp, osNamespace: osNamespace, index: index)
                ?? index.match(lookedUp, osNamespace: osNamespace)
            // A notice that rolls up records also matched for this package (a USN whose
            // `upstream` lists UBUNTU-CVE records) is folded into them, named among their
            // aliases: one vulnerability, one finding.
            let matched = Set(matches.map(\.record.id))
            var rollups: [String: [String]] = [:]
            for match in matches {
                let upstream = match.record.upstream ?? []
                guard !upstream.isEmpty, upstream.allSatisfy(matched.contains) else { continue }
                for id in upstream { rollups[id, default: []].append(match.record.id) }
            }
            let folded = Set(rollups.values.joined())
            for (match, others) in Self.oneByAlias(
                matches.filter { !folded.contains($0.record.id) }, ecosystem: entry.package.ecosystem, package: entry.package.name) {
                let vendor = VendorStatus.of(match)
                var aliases = match.record.relatedIDs + (rollups[match.record.id] ?? [])
                for other in others { aliases += [other.record.id] + other.record.relatedIDs + (rollups[other.record.id] ?? []) }
                var named: Set<String> = [match.record.id]
                aliases = aliases.filter { named.insert($0).inserted }
                // A notice's records of CVEs (a USN's UBUNTU-CVE-…) name those CVEs too: KEV,
                // EPSS and other feeds' scores are by CVE, and so is a search.
                aliases += aliases.compactMap(Self.cveNamed).filter { named.insert($0).inserted }
                // A distribution's record of one CVE is that CVE, as Trivy and Grype name it; the
                // record's id stays its first alias, and among `merged` (a scan that knew the
                // finding by it knew this one).
                let id = Self.presentedID(of: match.record.id, aliases: aliases)
                var merged = others.map(\.record.id)
                if id != match.record.id {
                    aliases = [match.record.id] + aliases.filter { $0 != id }
                    merged.insert(match.record.id, at: 0)
                }
                findings.append(
                    Finding(
                        id: id, aliases: aliases, ecosystem: entry.package.ecosystem,
                        package: entry.package.name, sourcePackage: entry.package.source?.name,
                        installedVersion: entry.package.version, fixedVersion: match.fixedVersion,
                        status: vendor.status, severity: match.rating.severity, severitySource: match.rating.source,
                        cvss: match.rating.scores, layerIndex: entry.layer, path: entry.package.path,
                        source: match.source, title: match.record.title, references: match.references, arch: entry.package.arch,
                        vendorStatus: vendor.words, unimportant: vendor.unimportant ? true : nil,
                        merged: merged.isEmpty ? nil : merged,
                        matchedAs: lookedUp.name == entry.package.name ? nil : lookedUp.name))
            }
        }
        return sorted(findings)
    }

    /// The id a finding is reported by: a distribution's record of one CVE, named after it
    /// (fathom's `ALPINE-v3.7-musl-CVE-2019-14697` and `DEBIAN-CVE-2024-0001-openssl-bookworm`,
    /// OSV's `ALPINE-CVE-…`, `UBUNTU-CVE-…`), is that CVE, so one vulnerability has one name in
    /// every release and every feed. A secdb entry of one id that is no CVE
    /// (`ALPINE-v3.7-xen-XSA-207`, a Xen or Zabbix advisory) is that id, as the secdb and Trivy
    /// name it. Any other record (a DSA, a USN, an RHSA, a GHSA) keeps its own.
    static func presentedID(of id: String, aliases: [String]) -> String {
        if aliases.count == 1, let only = aliases.first, !only.hasPrefix("CVE-"), id.hasPrefix("ALPINE-"), id.hasSuffix("-" + only) {
            return only
        }
        guard !id.hasPrefix("CVE-"), let cve = cveNamed(id), Set(aliases.filter { $0.hasPrefix("CVE-") }) == [cve] else { return id }
        return cve
    }

    /// The CVE `name` is, or is a distribution's record of (`UBUNTU-CVE-2023-4911`,
    /// `DEBIAN-CVE-2024-0001-openssl-bookworm`); nil for any other name (a USN, a GHSA).
    /// Read byte by byte (`-CVE-YYYY-N` ending the name or followed by `-`): it runs for every
    /// alias of every finding of a fleet, where a Regex costs microseconds each.
    public static func cveNamed(_ name: String) -> String? {
        if name.hasPrefix("CVE-") { return name }
        let bytes = Array(name.utf8)
        let marker = Array("-CVE-".utf8)
        func digits(from start: Int) -> Int {
            var end = start
            while end < bytes.count, bytes[end] >= UInt8(ascii: "0"), bytes[end] <= UInt8(ascii: "9") { end += 1 }
            return end
        }
        var at = 0
        while at + marker.count <= bytes.count {
            defer { at += 1 }
            guard bytes[at..<(at + marker.count)].elementsEqual(marker) else { continue }
            let year = digits(from: at + marker.count)
            guard year == at + marker.count + 4, year < bytes.count, bytes[year] == UInt8(ascii: "-") else { continue }
            let number = digits(from: year + 1)
            guard number > year + 1, number == bytes.count || bytes[number] == UInt8(ascii: "-") else { continue }
            return String(decoding: bytes[(at + 1)..<number], as: UTF8.self)
        }
        return nil
    }

    /// One match per vulnerability of a package: records that are aliases of each other (OSV's
    /// `aliases`: the same vulnerability, as PyPI's PYSEC-2018-28 and GHSA-x84v-xcm2-53pg are,
    /// both CVE-2018-18074; a distribution's tracker record and OSV record of one CVE) are one
    /// finding, as Trivy and Grype report them, not one per feed.
    /// Only a group that names one CVE at most is merged: a record with an extra alias (PyPA's
    /// PYSEC-2021-335 and -370, two CVEs naming one GHSA) or a CSAF advisory listing several
    /// CVEs would otherwise join distinct vulnerabilities. The record kept is the one with a
    /// fix, then the one that rates it, then the one the others name; if it rates nothing, the
    /// rating of one that does is taken, and the highest of their fixes. The others' ids become
    /// its aliases; records merely `related` stay apart.
    static func oneByAlias(
        _ matches: [AdvisoryIndex.Match], ecosystem: String, package: String
    ) -> [(kept: AdvisoryIndex.Match, others: [AdvisoryIndex.Match])] {
        guard matches.count > 1 else { return matches.map { ($0, []) } }
        // Union-find over the matches, joined by any shared name (id or alias).
        var parent = Array(matches.indices)
        func root(_ index: Int) -> Int {
            var index = index
            while parent[index] != index { (parent[index], index) = (parent[parent[index]], parent[index]) }
            return index
        }
        // A distribution's record of one CVE is also that CVE's name: Debian's tracker record
        // (`DEBIAN-CVE-X-openssl-bookworm`, alias CVE-X) and OSV's (`DEBIAN-CVE-X`, upstream
        // CVE-X) are one vulnerability, reported once by the CVE.
        func names(_ match: AdvisoryIndex.Match) -> [String] {
            let own = [match.record.id] + (match.record.aliases ?? [])
            let presented = presentedID(of: match.record.id, aliases: match.record.relatedIDs)
            return presented == match.record.id ? own : own + [presented]
        }
        var owner: [String: Int] = [:]
        for (index, match) in matches.enumerated() {
            for name in names(match) {
                if let other = owner[name] { parent[root(index)] = root(other) } else { owner[name] = index }
            }
        }
        var groups: [Int: [Int]] = [:]
        for index in matches.indices { groups[root(index), default: []].append(index) }
        let named = Set(matches.flatMap { $0.record.aliases ?? [] })
        var merged: [(kept: AdvisoryIndex.Match, others: [AdvisoryIndex.Match])] = []
        for key in groups.keys.sorted() {
            let members = groups[key]!.map { matches[$0] }
            let cves = Set(members.flatMap(names).filter { $0.hasPrefix("CVE-") })
            guard members.count > 1, cves.count <= 1 else {
                merged += members.map { ($0, []) }
                continue
            }
            func rank(_ match: AdvisoryIndex.Match) -> (Int, Int, Int, String) {
                (match.fixedVersion == nil ? 1 : 0, match.rating.severity == .unknown ? 1 : 0, named.contains(match.record.id) ? 0 : 1, match.record.id)
            }
            var kept = members.min { rank($0) < rank($1) }!
            if kept.rating.severity == .unknown, let rated = members.first(where: { $0.rating.severity != .unknown }) {
                kept.rating = rated.rating
            }
            // Feeds that disagree on the fix: the highest is fixed by every one's account (as a
            // remediation's upgrade is); versions that cannot be ordered leave the kept one's.
            let fixes = Set(members.compactMap(\.fixedVersion)).sorted()
            if fixes.count > 1, let highest = Remediation.highest(fixes, ecosystem: ecosystem, package: package).0 {
                kept.fixedVersion = highest
            }
            merged.append((kept, members.filter { $0.record.id != kept.record.id || $0.source != kept.source }))
        }
        return merged
    }
}

extension Finding {
    /// The names an ignore rule or a VEX statement waives this finding by: its id, and its
    /// aliases when it is about one vulnerability. An advisory of several CVEs (a USN, a DSA, an
    /// RHSA) is waived by its own id only: a rule about one of its CVEs leaves it reported, as the
    /// others are still there (as Trivy and Grype, which report each CVE, would).
    public var waivableNames: Set<String> {
        // The CVEs its aliases name (its id's only when they name none: a record whose id and
        // alias disagree is the alias's).
        var cves = Set(aliases.compactMap(ImageMatcher.cveNamed))
        if cves.isEmpty, let own = ImageMatcher.cveNamed(id) { cves = [own] }
        return cves.count > 1 ? [id] : Set([id] + aliases)
    }

    /// A notice's CVEs (a finding that names more than one), each with the names a rule may give
    /// it: the CVE and the aliases that are records of it (`UBUNTU-CVE-2023-4911`). Empty for a
    /// finding about one vulnerability.
    public var namesPerCVE: [String: Set<String>] {
        var byCVE: [String: Set<String>] = [:]
        for alias in aliases { if let cve = ImageMatcher.cveNamed(alias) { byCVE[cve, default: [cve]].insert(alias) } }
        return byCVE.count > 1 ? byCVE : [:]
    }
}

/// "Upgrade X from A to ≥ B": the findings of one installed package, grouped.
public struct Remediation: Sendable, Hashable, Codable {
    public var ecosystem: String
    public var package: String
    public var installedVersion: String
    /// The version that fixes every fixable finding (the highest fix), if any is fixable.
    public var upgradeTo: String?
    public var fixes: Int
    public var unfixed: Int
    public var highestSeverity: Severity
    public var layerIndex: Int
    /// Whether the package came with the first (base) layer or a later one.
    public var fromBaseLayer: Bool
    /// Why no single upgrade could be given although fixes exist (their versions could not be
    /// ordered); reports show it as a warning instead of guessing.
    public var problem: String?

    public static func group(_ findings: [Finding]) -> [Remediation] {
        var groups: [String: [Finding]] = [:]
        for finding in findings { groups["\(finding.ecosystem)\u{0}\(finding.package)\u{0}\(finding.installedVersion)\u{0}\(finding.path)", default: []].append(finding) }
        return groups.values.map { group in
            let first = group[0]
            let fixes = group.compactMap(\.fixedVersion)
            let (upgrade, problem) = Self.highest(Array(Set(fixes)).sorted(), ecosystem: first.ecosystem, package: first.package)
            return Remediation(
                ecosystem: first.ecosystem, package: first.package, installedVersion: first.installedVersion, upgradeTo: upgrade,
                fixes: fixes.count, unfixed: group.count - fixes.count, highestSeverity: group.map(\.severity).max() ?? .unknown,
                layerIndex: first.layerIndex, fromBaseLayer: first.layerIndex == 0, problem: problem)
        }.sorted { ($1.highestSeverity, $1.fixes, $0.package) < ($0.highestSeverity, $0.fixes, $1.package) }
    }

    /// The highest of `fixes` (distinct, sorted as text), or why there is none: a version the
    /// ecosystem's ordering rejects, or an ecosystem fathom cannot order, is said, not guessed.
    static func highest(_ fixes: [String], ecosystem: String, package: String) -> (String?, String?) {
        guard fixes.count > 1 else { return (fixes.first, nil) }
        let listed = fixes.joined(separator: ", ")
        guard let comparator = comparator(for: ecosystem) else {
            return (nil, "\(package): fixed in \(listed), which fathom cannot order (no \(ecosystem) version ordering)")
        }
        do {
            var best = fixes[0]
            for version in fixes.dropFirst() where try comparator.compare(best, version) == .less { best = version }
            return (best, nil)
        } catch {
            return (nil, "\(package): fixed in \(listed), which cannot be ordered: \(error)")
        }
    }

    static func comparator(for ecosystem: String) -> (any VersionComparator)? {
        VersionComparators.comparator(for: ecosystem == "crates" ? "semver" : ecosystem)
    }
}
