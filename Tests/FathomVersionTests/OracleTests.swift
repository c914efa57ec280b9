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

/// Differential tests against RubyGems' own Gem::Version (Debian's ruby) and Composer's own
/// VersionParser and Comparator (Debian's php-composer-semver), on versions drawn from a
/// grammar of what gems and Composer packages publish, valid and not.
@Suite(.timeLimit(.minutes(2))) struct LanguageOracleTests {
    /// A deterministic generator of version strings from `pieces`.
    struct Generator {
        var state: UInt64 = 0x2545_f491_4f6c_dd1d
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        mutating func pick<T>(_ items: [T]) -> T { items[next(items.count)] }
    }

    /// Pairs of versions, each paired with a neighbour that shares its prefix half the time
    /// (so that close versions, where orderings differ, are common).
    static func pairs(count: Int, make: (inout Generator) -> String) -> [(String, String)] {
        var generator = Generator()
        var versions: [String] = []
        for _ in 0..<count { versions.append(make(&generator)) }
        return versions.indices.map { index in
            let other = versions[(index * 13 + 5) % versions.count]
            return (versions[index], generator.next(2) == 0 ? other : versions[(index + 1) % versions.count])
        }
    }

    /// Our verdicts: the symbol, or "invalid" when a version is rejected.
    static func ours(_ comparator: any VersionComparator, _ pairs: [(String, String)]) -> [String] {
        pairs.map { pair in (try? comparator.compare(pair.0, pair.1).symbol) ?? "invalid" }
    }

    static func expectAgreement(_ name: String, _ pairs: [(String, String)], ours: [String], oracle: [Substring]) {
        #expect(oracle.count == pairs.count)
        var disagreements: [String] = []
        for (index, pair) in pairs.enumerated() where index < oracle.count && ours[index] != String(oracle[index]) {
            disagreements.append("'\(pair.0)' vs '\(pair.1)': \(name) says \(oracle[index]), fathom \(ours[index])")
        }
        let valid = oracle.filter { $0 != "invalid" }.count
        #expect(valid > pairs.count / 3, "too few valid pairs to mean anything: \(valid)")
        if !disagreements.isEmpty {
            Issue.record("\(disagreements.count) of \(pairs.count) differ:\n\(disagreements.prefix(12).joined(separator: "\n"))")
        }
    }

    @Test func rubyGemVersion() async throws {
        guard Tool.has("ruby") else {
            Issue.record("ruby is not installed (scripts/test installs it)")
            return
        }
        let pairs = Self.pairs(count: 1500) { g in
            var version = g.pick(["0", "1", "2", "10", "01", "3", "1.0", "2.0.0"])
            for _ in 0..<g.next(5) {
                version += g.pick([".", ".", ".", "", "-"])
                version += g.pick(["0", "1", "2", "10", "a", "b", "pre", "rc1", "alpha", "beta2", "A", "0a", "a0", "1b", "Z"])
            }
            if g.next(12) == 0 { version = g.pick(["", " 1.0 ", "1..0", "a1", "1.0-", "1.0--a", "-1", "1.0 2"]) }
            return version
        } + [("2.0.1", "2.0.0"), ("2.0.8", "2.0.1"), ("1.0.0.a", "1.0"), ("1.a", "1.0.a.0"), ("1.0-rc1", "1.0.rc1"), ("1.0.b1", "1.0.a.2")]
        let program = #"""
            STDIN.each_line do |line|
              a, b = line.chomp("\n").split("\t", -1)
              if Gem::Version.correct?(a) && Gem::Version.correct?(b)
                puts ["=", ">", "<"][Gem::Version.new(a) <=> Gem::Version.new(b)]
              else
                puts "invalid"
              end
            end
            """#
        let input = pairs.map { "\($0.0)\t\($0.1)" }.joined(separator: "\n") + "\n"
        let verdicts = try await Tool.run(["ruby", "-e", program], input: Data(input.utf8)).text.split(separator: "\n")
        Self.expectAgreement("Gem::Version", pairs, ours: Self.ours(RubyGemsVersion(), pairs), oracle: verdicts)
    }

    /// Whether Debian's php-cli and php-composer-semver are here (recorded as an issue if not).
    static func hasComposer() -> Bool {
        guard Tool.has("php"), FileManager.default.fileExists(atPath: "/usr/share/php/Composer/Semver/autoload.php") else {
            Issue.record("php-cli and php-composer-semver are not installed (scripts/test installs them)")
            return false
        }
        return true
    }

    /// `program` run by PHP with `lines` on its standard input, one answer per line.
    static func php(_ program: String, lines: [String]) async throws -> [Substring] {
        try await Tool.run(["php", "-r", program], input: Data((lines.joined(separator: "\n") + "\n").utf8)).text.split(separator: "\n")
    }

    @Test func composerSemver() async throws {
        guard Self.hasComposer() else { return }
        let pairs = Self.pairs(count: 1500) { g in
            var version = g.pick(["", "", "v", "V"])
            version += (0...g.next(5)).map { _ in g.pick(["0", "1", "2", "10", "00", "3"]) }.joined(separator: ".")
            if g.next(3) > 0 {
                version += g.pick(["", "-", ".", "_"])
                version += g.pick(["alpha", "a", "beta", "b", "RC", "rc", "patch", "pl", "p", "stable", "STABLE", "Beta", "dev"])
                version += g.pick(["", "1", "2", ".1", "-2", "10", "1.2"])
            }
            if g.next(5) == 0 { version += g.pick(["-dev", ".dev", "dev", "@beta", "+build.1", "+", "@stable"]) }
            if g.next(10) == 0 {
                version = g.pick([
                    "1.x-dev", "2.1.*-dev", "dev-master", "master", "2010-01-02", "20100102", "2010.01.02.5", "1.0.0.0.0",
                    "123456.1", "1.0 as 2.0", "1.0-", "foo", "20100102-beta1", "2010-01-02-10-20-30.5", "v1.0.x-dev",
                ])
            }
            return version
        } + [("7.4.3", "7.4.2"), ("1.0pl1", "1.0"), ("1.0-dev", "1.0-alpha"), ("1.0RC1", "1.0-beta5"), ("v2.0", "2.0.0.0")]
        let program = #"""
            require '/usr/share/php/Composer/Semver/autoload.php';
            use Composer\Semver\VersionParser;
            use Composer\Semver\Comparator;
            $parser = new VersionParser();
            while (($line = fgets(STDIN)) !== false) {
                [$a, $b] = explode("\t", rtrim($line, "\n"));
                try {
                    $na = $parser->normalize($a);
                    $nb = $parser->normalize($b);
                } catch (UnexpectedValueException $e) {
                    echo "invalid\n";
                    continue;
                }
                if (str_starts_with($na, 'dev-') || str_starts_with($nb, 'dev-')) { echo "invalid\n"; continue; }
                echo Comparator::lessThan($na, $nb) ? "<" : (Comparator::equalTo($na, $nb) ? "=" : ">"), "\n";
            }
            """#
        let verdicts = try await Self.php(program, lines: pairs.map { "\($0.0)\t\($0.1)" })
        Self.expectAgreement("Composer", pairs, ours: Self.ours(ComposerVersion(), pairs), oracle: verdicts)
    }

    /// Composer's normalized forms, as VersionParser::normalize writes them.
    @Test func composerNormalize() async throws {
        guard Self.hasComposer() else { return }
        let versions = [
            "1.0", "v1.0.0", "1.0RC1", "1.0-rc.1", "1.0pl1", "1.0-p2", "1.0.0-patch3", "1.0a1", "1.0b", "1.0-beta.2-dev",
            "1.0-STABLE", "1.0-stable", "1.x-dev", "dev-feature/x", "2010-01-02", "20100102", "1.0.0+sha.1", "1.0@beta",
            "master", "1.2.3.4", "1.0-dev", "v1.0.x-dev", "99999.1", "1.0.0.0-beta1.2",
        ]
        let program = #"""
            require '/usr/share/php/Composer/Semver/autoload.php';
            $parser = new Composer\Semver\VersionParser();
            while (($line = fgets(STDIN)) !== false) {
                try { echo $parser->normalize(rtrim($line, "\n")), "\n"; } catch (UnexpectedValueException $e) { echo "invalid\n"; }
            }
            """#
        let expected = try await Self.php(program, lines: versions).map(String.init)
        let ours = versions.map { (try? ComposerVersion().normalize($0)) ?? "invalid" }
        #expect(ours == expected)
    }
}
