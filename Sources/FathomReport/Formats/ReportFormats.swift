public import FathomAdvisory
import FathomCore
public import FathomInventory
import Foundation

/// What the report formats share: each package's purl, the package a finding is in, and how
/// a finding's severity and scores read.
extension ScanReport {
    /// The purl of each entry of `packages` (nil where purl has no type for the ecosystem).
    package var packageURLs: [PackageURL?] {
        packages.map {
            PackageURL(
                ecosystem: $0.ecosystem, name: $0.name, version: $0.version, arch: $0.arch, source: $0.source, osID: os?.id,
                osVersion: os?.versionID)
        }
    }

    /// Each package's index in `packages`, by what a vulnerability names it with (ecosystem,
    /// name, version and file): built once per report, not searched once per finding.
    var packageIndexes: [String: Int] {
        var indexes: [String: Int] = [:]
        for (index, package) in packages.enumerated() {
            let key = Self.packageKey(package.ecosystem, package.name, package.version, package.path)
            if indexes[key] == nil { indexes[key] = index }  // the first, as a search would find
        }
        return indexes
    }

    package static func packageKey(_ ecosystem: String, _ name: String, _ version: String, _ path: String) -> String {
        "\(ecosystem)\u{0}\(name)\u{0}\(version)\u{0}\(path)"
    }

    static func packageKey(_ vulnerability: Vulnerability) -> String {
        packageKey(vulnerability.ecosystem, vulnerability.package, vulnerability.installedVersion, vulnerability.path)
    }

    /// The image's name without its digest, and its tag: `host/repo:tag@sha256:…` → (`host/repo`, `tag`).
    var nameAndTag: (repository: String, tag: String?) {
        var repository = artifact.name
        var tag: String?
        if let at = repository.firstIndex(of: "@") { repository = String(repository[..<at]) }
        if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") {
            tag = String(repository[repository.index(after: colon)...])
            repository = String(repository[..<colon])
        }
        return (repository, tag)
    }

    /// The image as a purl (`pkg:oci/NAME@DIGEST?repository_url=…&tag=…`), when its digest is known.
    var imageURL: PackageURL? {
        guard let digest = artifact.manifestDigest else { return nil }
        var (repository, tag) = nameAndTag
        var qualifiers: [String: String] = [:]
        // A local source (`oci:DIR:tag`, an archive) is in no repository: no `repository_url`,
        // and the name is its folder's or file's, not the transport and path.
        if let transport = ["oci:", "oci-archive:", "docker-archive:", "dir:", "rootfs:"].first(where: repository.hasPrefix) {
            repository = String(repository.dropFirst(transport.count))
            for suffix in [".tar.gz", ".tgz", ".tar"] where repository.hasSuffix(suffix) {
                repository.removeLast(suffix.count)
                break
            }
        } else {
            qualifiers["repository_url"] = repository
        }
        let name = repository.split(separator: "/").last.map(String.init) ?? repository
        if let tag { qualifiers["tag"] = tag }
        if let platform = artifact.platform, let arch = platform.split(separator: "/").dropFirst().first { qualifiers["arch"] = String(arch) }
        return PackageURL(type: "oci", name: name.lowercased(), version: digest.description, qualifiers: qualifiers)
    }

    /// The date the report was made, for the formats that carry one.
    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Sorted keys, no escaped slashes, a trailing newline.
    static func encode(_ document: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(document.compacted), as: UTF8.self) + "\n"
    }
}

extension ScanReport.Vulnerability {
    /// The highest CVSS base score known (v3 or v4 before v2), if any.
    var highestScore: CVSSScore? {
        let modern = cvss.filter { !$0.version.hasPrefix("2") }
        return (modern.isEmpty ? cvss : modern).max { $0.score < $1.score }
    }

    /// The URLs among the references.
    var links: [String] { references.filter { $0.hasPrefix("https://") || $0.hasPrefix("http://") } }

    /// A page about the vulnerability: its first link, else the public page of its id (none
    /// for an id no public database publishes).
    var page: String? { links.first ?? OSVPage.url(for: id) }

    /// A probability as a percentage with up to two decimals, cut rather than rounded so that
    /// only a certainty reads 100% (`0.97` → `97%`, `0.99999` → `99.99%`, `6e-05` → `0%`).
    static func percent(_ value: Double) -> String {
        let percent = (value * 10_000).rounded(.down) / 100
        return (percent == percent.rounded() ? String(Int(percent)) : String(percent)) + "%"
    }

    /// What the vendor says when there is no fix: "no fix yet", or why not.
    var noFixWords: String {
        let words = vendorStatus.map { " (\($0))" } ?? ""
        switch status {
        case .fixed, .affected: return "no fix yet" + words
        case .willNotFix: return "the vendor will not fix it" + words
        case .fixDeferred: return "the vendor deferred the fix" + words
        case .endOfLife: return "no fix: the package's support has ended in this release" + words
        case .underInvestigation: return "the vendor is still investigating" + words
        }
    }

    /// One line: what is affected, what fixes it, how severe and by whose rating.
    var summaryLine: String {
        var text = "\(package) \(installedVersion) (\(ecosystem)) is affected by \(id)"
        text += fixedVersion.map { "; fixed in \($0)" } ?? "; \(noFixWords)"
        text += ". Severity \(severity.rawValue)" + (severitySource.map { " (\($0))" } ?? "")
        if let score = highestScore { text += ", CVSS \(score.version) \(score.score) from \(score.attribution) (\(score.vector))" }
        if let kev { text += ". Known exploited (CISA KEV, added \(kev.dateAdded)\(kev.knownRansomware ? ", used by ransomware" : ""))" }
        if let epss { text += ". EPSS \(Self.percent(epss.score)) (percentile \(Self.percent(epss.percentile)))" }
        return text + "."
    }
}
