// When OS releases stop getting security fixes. Dates from the distributions' own release
// tables (https://alpinelinux.org/releases/ "End of support"; https://wiki.debian.org/LTS and
// https://wiki.debian.org/DebianReleases, Debian's LTS end, after which no security fix comes),
// as collected at endoflife.date. A release missing here is not flagged.
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
    ]

    /// The end-of-support date of the release `namespace` names, if fathom knows it.
    public static func endOfSupport(of namespace: String) -> String? { endOfSupport[namespace] }

    /// A warning when the release has reached its end of support by `now`.
    public static func warning(for namespace: String?, now: Date = Date()) -> String? {
        guard let namespace, let date = endOfSupport[namespace] else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard let end = formatter.date(from: date), end <= now else { return nil }
        return "\(namespace) reached its end of support on \(date): its packages get no more security fixes, and advisories for it may be incomplete"
    }
}
