// When OS releases stop getting security fixes (without a paid extension), as facts from the
// distributions' own tables:
// - Alpine: https://alpinelinux.org/releases/ "End of support".
// - Debian: https://wiki.debian.org/LTS and https://wiki.debian.org/DebianReleases, the LTS end.
// - Ubuntu: the end of standard support (ESM needs Ubuntu Pro), as Debian's distro-info-data
//   (0.58+deb12u7, ubuntu.csv) records the announced days and Canonical's release-cycle page
//   (canonical/ubuntu.com, templates/about/release_cycles) the months; 22.04, whose day Canonical
//   has not fixed yet, is left out.
// - Red Hat: the end of Maintenance Support (https://access.redhat.com/support/policy/updates/errata,
//   as endoflife.date's products/rhel.md, commit a70eca33, records it; RHEL 7's from Red Hat's blog).
//   RHEL 6's is the end of its Maintenance Support 2 phase.
// - CentOS (checked against Red Hat's advisories, but not Red Hat's lifecycle): CentOS Linux's
//   end of life (centos.org; 8 ended early, on 2021-12-31), CentOS Stream's end of builds, which
//   follows RHEL's full support phase (Stream 10's is not announced).
// - AlmaLinux and Rocky Linux: the end of security support, from their wikis (AlmaLinux
//   docs/release-notes/README.md, Rocky docs/rocky/version.md).
// - SUSE: each service pack's end of general support (LTSS is paid), and openSUSE Leap's end of
//   life, from SUSE's lifecycle table and openSUSE's Lifetime page as endoflife.date records them.
// Collected through endoflife.date (MIT). A release missing here is not flagged; Wolfi and
// Chainguard roll and have none.
public import Foundation

public enum OSLifecycle {
    /// End of support per advisory namespace (`Alpine:v3.7`, `Debian:12`), as YYYY-MM-DD.
    static let endOfSupport: [String: String] = [
        "Alpine:v3.0": "2016-05-01", "Alpine:v3.1": "2016-11-01", "Alpine:v3.2": "2017-05-01", "Alpine:v3.3": "2017-11-01",
        "Alpine:v3.4": "2018-05-01", "Alpine:v3.5": "2018-11-01", "Alpine:v3.6": "2019-05-01", "Alpine:v3.7": "2019-11-01",
        "Alpine:v3.8": "2020-05-01", "Alpine:v3.9": "2020-11-01", "Alpine:v3.10": "2021-05-01", "Alpine:v3.11": "2021-11-01",
        "Alpine:v3.12": "2022-05-01", "Alpine:v3.13": "2022-11-01", "Alpine:v3.14": "2023-05-01", "Alpine:v3.15": "2023-11-01",
        "Alpine:v3.16": "2024-05-23", "Alpine:v3.17": "2024-11-22", "Alpine:v3.18": "2025-05-09", "Alpine:v3.19": "2025-11-01",
        "Alpine:v3.20": "2026-04-01", "Alpine:v3.21": "2026-11-01", "Alpine:v3.22": "2027-05-01", "Alpine:v3.23": "2027-11-01",
        "Debian:7": "2018-05-31", "Debian:8": "2020-06-30", "Debian:9": "2022-07-01", "Debian:10": "2024-06-30",
        "Debian:11": "2026-08-31", "Debian:12": "2028-06-10",
        "Ubuntu:14.04": "2019-04-25", "Ubuntu:14.10": "2015-07-23", "Ubuntu:15.04": "2016-02-04", "Ubuntu:15.10": "2016-07-28",
        "Ubuntu:16.04": "2021-04-30", "Ubuntu:16.10": "2017-07-20", "Ubuntu:17.04": "2018-01-13", "Ubuntu:17.10": "2018-07-19",
        "Ubuntu:18.04": "2023-05-31", "Ubuntu:18.10": "2019-07-18", "Ubuntu:19.04": "2020-01-23", "Ubuntu:19.10": "2020-07-17",
        "Ubuntu:20.04": "2025-05-31", "Ubuntu:20.10": "2021-07-22", "Ubuntu:21.04": "2022-01-20", "Ubuntu:21.10": "2022-07-14",
        "Ubuntu:22.10": "2023-07-20", "Ubuntu:23.04": "2024-01-25", "Ubuntu:23.10": "2024-07-11", "Ubuntu:24.04": "2029-05-31",
        "Ubuntu:24.10": "2025-07-10", "Ubuntu:25.04": "2026-01-15", "Ubuntu:25.10": "2026-07-09",
        "Red Hat:6": "2020-11-30", "Red Hat:7": "2024-06-30", "Red Hat:8": "2029-05-31", "Red Hat:9": "2032-05-31", "Red Hat:10": "2035-05-31",
        "CentOS Linux:6": "2020-11-30", "CentOS Linux:7": "2024-06-30", "CentOS Linux:8": "2021-12-31",
        "CentOS Stream:8": "2024-05-31", "CentOS Stream:9": "2027-05-31",
        "AlmaLinux:8": "2029-05-31", "AlmaLinux:9": "2032-05-31", "AlmaLinux:10": "2035-05-31",
        "Rocky Linux:8": "2029-05-31", "Rocky Linux:9": "2032-05-31", "Rocky Linux:10": "2035-05-31",
        "SUSE:12.5": "2024-10-31", "SUSE:15.1": "2021-01-31", "SUSE:15.2": "2021-12-31", "SUSE:15.3": "2022-12-31",
        "SUSE:15.4": "2023-12-31", "SUSE:15.5": "2024-12-31", "SUSE:15.6": "2025-12-31", "SUSE:15.7": "2031-07-31",
        "openSUSE:Leap 15.0": "2019-12-03", "openSUSE:Leap 15.1": "2021-02-02", "openSUSE:Leap 15.2": "2022-01-04",
        "openSUSE:Leap 15.3": "2022-12-31", "openSUSE:Leap 15.4": "2023-12-07", "openSUSE:Leap 15.5": "2024-12-31",
        "openSUSE:Leap 15.6": "2026-04-30",
    ]

    /// The same days as instants (midnight UTC), parsed once: a formatter made per image was a
    /// tenth of a warm scan's CPU (perf).
    static let endOfSupportDates: [String: Date] = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return endOfSupport.compactMapValues { formatter.date(from: $0) }
    }()

    /// The release whose lifecycle applies: the advisory namespace, except for CentOS, which is
    /// checked against Red Hat's advisories (`Red Hat:8`) but ended on days of its own
    /// (`CentOS Linux:8`, `CentOS Stream:9`).
    public static func release(id: String, prettyName: String?, namespace: String?) -> String? {
        guard id == "centos", let namespace, namespace.hasPrefix("Red Hat:") else { return namespace }
        let major = namespace.dropFirst("Red Hat:".count)
        return (prettyName?.lowercased().contains("stream") == true ? "CentOS Stream:" : "CentOS Linux:") + major
    }

    /// The end-of-support date of `release` (`release(id:prettyName:namespace:)`), if fathom knows it.
    public static func endOfSupport(of release: String) -> String? { endOfSupport[release] }

    /// Every release fathom knows the end of support of.
    public static var releases: [String] { endOfSupport.keys.sorted() }

    /// A warning when `release` has reached its end of support by `now`.
    public static func warning(for release: String?, now: Date = Date()) -> String? {
        guard let release, let date = endOfSupport[release], let end = endOfSupportDates[release], end <= now else { return nil }
        return "\(release) reached its end of support on \(date): its packages get no more security fixes, and advisories for it may be incomplete"
    }
}
