import FathomTestSupport
import FathomVersion
import Foundation
import Testing

/// Differential tests against the real tools: `dpkg --compare-versions` and rpm's own
/// `labelCompare` (python3-rpm), on pairs drawn from the vector files' versions.
@Suite(.timeLimit(.minutes(2))) struct OracleTests {
    /// Distinct versions from a vector file, shuffled deterministically, paired up.
    static func pairs(_ file: String, count: Int) throws -> [(String, String)] {
        var versions = Set<String>()
        for vector in try VersionVectorTests.vectors(file) {
            versions.insert(vector.lhs.trimmingCharacters(in: .whitespaces))
            versions.insert(vector.rhs.trimmingCharacters(in: .whitespaces))
        }
        var sorted = versions.sorted()
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        for index in stride(from: sorted.count - 1, to: 0, by: -1) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            sorted.swapAt(index, Int(state >> 33) % (index + 1))
        }
        return (0..<min(count, sorted.count - 1)).map { (sorted[$0], sorted[($0 * 7 + 3) % sorted.count]) }
    }

    /// Every pair must get the oracle's verdict.
    static func expectAgreement(_ comparator: any VersionComparator, _ pairs: [(String, String)], _ verdicts: [Substring]) throws {
        #expect(verdicts.count == pairs.count)
        var disagreements: [String] = []
        for (pair, verdict) in zip(pairs, verdicts) {
            let ours = try comparator.compare(pair.0, pair.1).symbol
            if ours != String(verdict) { disagreements.append("\(pair.0) \(verdict) \(pair.1) but fathom says \(ours)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func dpkgCompareVersions() async throws {
        guard Tool.has("dpkg") else { return }
        let pairs = try Self.pairs("scalibr/debian-versions-generated.txt", count: 600)
            + [("1:1.0", "2.0"), ("1.0~rc1", "1.0"), ("1.0-1", "1.0-1+deb12u1"), ("2.36-9+deb12u7", "2.36-9+deb12u10")]
        let input = pairs.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n"
        // One shell loop answers every pair with dpkg's own verdict.
        let script = #"while IFS="$(printf '\t')" read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo "<"; elif dpkg --compare-versions "$a" eq "$b"; then echo "="; else echo ">"; fi; done"#
        let verdicts = try await Tool.run(["bash", "-c", script], input: Data(input.utf8)).text.split(separator: "\n")
        try Self.expectAgreement(DpkgVersion(), pairs, verdicts)
    }

    @Test func rpmLabelCompare() async throws {
        guard (try? await Tool.run(["/usr/bin/python3", "-c", "import rpm"]))?.status == 0 else {
            Issue.record("python3-rpm is not installed (scripts/test installs it)")
            return
        }
        var pairs = try Self.pairs("scalibr/redhat-versions.txt", count: 200)
        pairs += [
            ("1.0~rc1-1", "1.0-1"), ("1.0^git1-1", "1.0-1"), ("1.0^git1-1", "1.0.1-1"), ("2:1.0-1", "1:9.9-9"),
            ("1.2.3-4.el8", "1.2.3-4.el8_7"), ("0.9.8zh-1", "0.9.8za-1"), ("1.0a-1", "1.0-1"), ("10.0.0-1", "9.99.99-1"),
        ]
        // rpm.labelCompare takes (epoch, version, release); split the way RpmVersion does.
        let program = """
            import sys, rpm
            def evr(s):
                e = '0'
                d = 0
                while d < len(s) and s[d].isdigit(): d += 1
                if d < len(s) and s[d] == ':':
                    e, s = s[:d] or '0', s[d+1:]
                v, _, r = s.rpartition('-') if '-' in s else (s, '', None)
                return (e, v, r)
            for line in sys.stdin:
                a, b = line.rstrip('\\n').split('\\t')
                print({-1: '<', 0: '=', 1: '>'}[rpm.labelCompare(evr(a), evr(b))])
            """
        let input = pairs.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n"
        let verdicts = try await Tool.run(["/usr/bin/python3", "-c", program], input: Data(input.utf8)).text.split(separator: "\n")
        try Self.expectAgreement(RpmVersion(), pairs, verdicts)
    }
}
