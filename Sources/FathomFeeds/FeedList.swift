import FathomAdvisory
import FathomCore
import Foundation
import Yams

/// One advisory feed to keep current: its name in the store and where to download it from.
public struct Feed: Sendable, Hashable, Codable {
    /// The source name its advisories are stored under (re-importing it replaces them).
    public var name: String
    public var url: String

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

/// The feeds `fathom db update` fetches: the defaults below, or a feeds file.
public enum FeedList {
    /// OSV's ecosystem exports (one `all.zip` each).
    static let osvEcosystems = [
        "PyPI", "Go", "npm", "crates.io", "Maven", "RubyGems", "Packagist", "NuGet", "Debian", "Ubuntu", "Alpine",
        "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE", "Wolfi", "Chainguard",
    ]
    /// Alpine releases whose secdb is fetched (main and community).
    static let alpineReleases = ["v3.17", "v3.18", "v3.19", "v3.20", "v3.21", "v3.22"]

    /// Every feed fathom knows, from their upstream locations.
    public static let defaults: [Feed] =
        osvEcosystems.map { ecosystem in
            Feed(
                name: "osv-" + ecosystem.lowercased().replacingOccurrences(of: " ", with: "-"),
                url: "https://osv-vulnerabilities.storage.googleapis.com/\(ecosystem.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? ecosystem)/all.zip")
        }
        + alpineReleases.flatMap { release in
            ["main", "community"].map { repository in
                Feed(name: "alpine-secdb-\(release)-\(repository)", url: "https://secdb.alpinelinux.org/\(release)/\(repository).json")
            }
        }
        + [Feed(name: "debian-tracker", url: "https://security-tracker.debian.org/tracker/data/json")]
        + nvdYears.map { year in Feed(name: "nvd-\(year)", url: "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-\(year).json.gz") }
        // Exploitation data: CISA's KEV catalog (CC0) and FIRST's daily EPSS scores.
        + [
            Feed(name: "cisa-kev", url: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"),
            Feed(name: "epss", url: "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"),
        ]

    /// NVD's CVE API 2.0 feed files, one per CVE year from 2002 (the 2002 file holds the older
    /// CVEs too) to the current year: CVSS scores, the severity source of last resort.
    static var nvdYears: ClosedRange<Int> {
        2002...max(2025, Calendar(identifier: .gregorian).component(.year, from: Date()))
    }

    /// Reads a feeds file: YAML or JSON, `feeds: [{name: …, url: …}, …]`.
    public static func load(_ path: String) throws -> [Feed] {
        struct File: Decodable { var feeds: [Feed] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FathomError(.io, "cannot read the feeds file", path: path)
        }
        do {
            let feeds = try BoundedYAML.decode(File.self, from: String(decoding: data, as: UTF8.self)).feeds
            guard !feeds.isEmpty else { throw FathomError(.invalidInput, "the feeds file lists no feed", path: path) }
            for feed in feeds where URL(string: feed.url)?.scheme == nil {
                throw FathomError(.invalidInput, "feed \(feed.name): '\(feed.url)' is not a URL", path: path)
            }
            return feeds
        } catch let error as FathomError {
            throw error
        } catch {
            throw FathomError(.invalidInput, "not a feeds file (feeds: [{name, url}])", path: path, cause: error)
        }
    }

    /// The feeds served by a mirror that keeps each upstream's layout under the upstream's host
    /// name: `https://secdb.alpinelinux.org/v3.20/main.json` becomes
    /// `MIRROR/secdb.alpinelinux.org/v3.20/main.json`.
    public static func mirrored(_ feeds: [Feed], through mirror: String) -> [Feed] {
        var base = mirror
        while base.hasSuffix("/") { base.removeLast() }
        return feeds.map { feed in
            guard let components = URLComponents(string: feed.url), let host = components.host else { return feed }
            var rewritten = feed
            rewritten.url = base + "/" + host + components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
            return rewritten
        }
    }
}
