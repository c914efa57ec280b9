@testable import FathomAdvisory
import FathomCore
import Testing

/// What the filters leave out is said, and a filter that is not about severity says the
/// severities of what it left out: `--ignore-unfixed` must not hide a CRITICAL finding silently.
@Suite struct PolicyFilterTests {
    static func finding(_ id: String, _ severity: Severity, fixed: String?) -> Finding {
        Finding(
            id: id, aliases: [], ecosystem: "apk", package: "busybox", sourcePackage: nil, installedVersion: "1.0-r0", fixedVersion: fixed,
            status: fixed == nil ? .affected : .fixed, severity: severity, severitySource: nil, cvss: [], layerIndex: 0,
            path: "lib/apk/db/installed", source: "test", title: nil, references: [])
    }

    @Test func filtersThatAreNotAboutSeveritySayTheSeveritiesTheyLeftOut() {
        let findings = [
            Self.finding("CVE-1", .critical, fixed: nil), Self.finding("CVE-2", .critical, fixed: nil), Self.finding("CVE-3", .high, fixed: nil),
            Self.finding("CVE-4", .unknown, fixed: "1.0-r1"), Self.finding("CVE-5", .high, fixed: "1.0-r1"),
        ]
        var policy = ScanPolicy()
        policy.ignoreUnfixed = true
        let unfixed = policy.apply(findings, purl: { _ in nil }, image: nil)
        #expect(unfixed.kept.map(\.id) == ["CVE-4", "CVE-5"])
        #expect(unfixed.filtered.warning == "3 findings left out by the filters: 3 without a fix (2 CRITICAL, 1 HIGH)")
        // With --severity too: what it left out is counted by severity, as before, apart.
        policy.severities = [.critical, .high]
        let both = policy.apply(findings, purl: { _ in nil }, image: nil)
        #expect(both.kept.map(\.id) == ["CVE-5"])
        #expect(both.filtered.warning == "4 findings left out by the filters: 1 UNKNOWN, 3 without a fix (2 CRITICAL, 1 HIGH)")
        // A fleet's sum keeps them.
        var fleet = ScanPolicy.Filtered()
        fleet.add(unfixed.filtered)
        fleet.add(both.filtered)
        #expect(fleet.othersBySeverity == ["CRITICAL": 4, "HIGH": 2])
        // Two filters that are not about severity: their severities together, after both.
        var two = ScanPolicy.Filtered()
        two.unfixed = 2
        two.notKnownExploited = 1
        two.othersBySeverity = ["CRITICAL": 2, "LOW": 1]
        #expect(two.warning == "3 findings left out by the filters: 2 without a fix, 1 not known exploited (CISA KEV); the 3 without a fix or not known exploited: 2 CRITICAL, 1 LOW")
        // The severity filter alone says what it always said.
        policy.ignoreUnfixed = false
        #expect(policy.apply(findings, purl: { _ in nil }, image: nil).filtered.warning == "1 finding left out by the filters: 1 UNKNOWN")
    }
}
