// OSV names some distributions' ecosystems finer than a release: Ubuntu by support track
// (`Ubuntu:22.04:LTS`), Red Hat by product stream (`Red Hat:enterprise_linux:9::appstream`,
// `…::baseos`), SUSE by product and module (`SUSE:Linux Enterprise Server 15 SP5-LTSS`,
// `SUSE:Linux Enterprise Module for Basesystem 15 SP5`). An image only says its release, so
// advisories are indexed under the release they apply to: the namespace an image's os-release
// gives (`Ubuntu:22.04`, `Red Hat:9`, `SUSE:15.5`).

/// The image-side namespace of an OSV ecosystem.
public enum OSNamespaces {
    /// The release namespace whose images `ecosystem`'s advisories apply to: `Ubuntu:22.04:LTS`
    /// → `Ubuntu:22.04`, `Red Hat:enterprise_linux:9::baseos` → `Red Hat:9`, `SUSE:Linux
    /// Enterprise Server 15 SP5-LTSS` → `SUSE:15.5`; any other ecosystem is its own. Tracks an
    /// ordinary image does not run (Ubuntu Pro, RHEL EUS/AUS, SUSE's other products) keep their
    /// own names and so match no image.
    public static func release(of ecosystem: String) -> String {
        let parts = ecosystem.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "Ubuntu" where parts.count == 3 && parts[2] == "LTS":
            return "Ubuntu:\(parts[1])"
        case "Red Hat" where parts.count >= 3 && parts[1] == "enterprise_linux" && parts[2].allSatisfy(\.isNumber):
            return "Red Hat:\(parts[2])"
        case "SUSE" where parts.count == 2:
            let product = parts[1].hasSuffix("-LTSS") ? String(parts[1].dropLast(5)) : parts[1]
            for prefix in ["Linux Enterprise Server ", "Linux Enterprise Module for "] where product.hasPrefix(prefix) {
                // "… 15 SP5" → 15.5, "… 15" → 15; the module's name sits between.
                let words = product.split(separator: " ")
                guard let last = words.last else { break }
                if last.hasPrefix("SP"), words.count >= 2, let major = Int(words[words.count - 2]), let pack = Int(last.dropFirst(2)) {
                    return "SUSE:\(major).\(pack)"
                }
                if let major = Int(last) { return "SUSE:\(major)" }
            }
            return ecosystem
        default:
            return ecosystem
        }
    }
}
