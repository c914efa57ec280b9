import FathomTestSupport
import FathomVersion
import Foundation
import Testing

/// Comparison vectors written by the ecosystems' own tools (dpkg, apk, rpm, packaging,
/// node-semver): every line must come out as the tool said.
@Suite struct VersionVectorTests {
    struct Vector: CustomStringConvertible {
        var lhs: String
        var expected: String
        var rhs: String
        var line: Int
        var description: String { "line \(line): \(lhs) \(expected) \(rhs)" }
    }

    static func vectors(_ relative: String) throws -> [Vector] {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("versions/\(relative)"), encoding: .utf8)
        var vectors: [Vector] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("//") { continue }
            guard let range = [" < ", " = ", " > "].compactMap({ line.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound })
            else { continue }
            vectors.append(
                Vector(
                    lhs: String(line[..<range.lowerBound]), expected: line[range].trimmingCharacters(in: .whitespaces),
                    rhs: String(line[range.upperBound...]), line: index + 1))
        }
        return vectors
    }

    func check(
        _ comparator: any VersionComparator, _ files: [String], skip: (Vector) -> Bool = { _ in false }
    ) throws {
        var total = 0
        var failures: [String] = []
        for file in files {
            for vector in try Self.vectors(file) where !skip(vector) {
                total += 1
                do {
                    let result = try comparator.compare(vector.lhs, vector.rhs)
                    let reverse = try comparator.compare(vector.rhs, vector.lhs)
                    let flipped = vector.expected == "<" ? ">" : vector.expected == ">" ? "<" : "="
                    if result.symbol != vector.expected || reverse.symbol != flipped {
                        failures.append("\(file) \(vector): got \(result.symbol) / reverse \(reverse.symbol)")
                    }
                } catch {
                    failures.append("\(file) \(vector): \(error)")
                }
            }
        }
        #expect(total > 0)
        #expect(failures.isEmpty, "\(failures.count) of \(total) wrong, e.g.\n\(failures.prefix(15).joined(separator: "\n"))")
    }

    @Test func dpkg() async throws {
        try check(DpkgVersion(), ["scalibr/debian-versions.txt", "scalibr/debian-versions-generated.txt"])
    }

    @Test func rpm() async throws { try check(RpmVersion(), ["scalibr/redhat-versions.txt"]) }

    /// apk ordering as apk-tools 3 (and 2.12+) has it. The generated vectors came from an older
    /// apk-tools; every one of them whose versions current apk accepts agrees. Left out, and
    /// counted exactly so that none disappears silently: 93 vectors with a version current apk
    /// rejects (`apk version --check`): a digit right after a letter (`6.6.2p1`, which Alpine
    /// writes `6.6.2_p1` since), `-r` without a number, `.` without digits, upper-case letters,
    /// unknown suffixes. The old apk ordered those; current apk compares them only up to the
    /// first invalid token, so the two disagree and fathom follows the one Alpine runs.
    @Test func apk() async throws {
        let files = ["scalibr/alpine-versions.txt", "scalibr/alpine-versions-generated.txt"]
        func malformed(_ version: String) -> Bool { !ApkVersion.isValid(version) }
        let skipped = try files.flatMap { try Self.vectors($0) }.filter { malformed($0.lhs) || malformed($0.rhs) }
        #expect(skipped.count == 93, "\(skipped)")
        try check(ApkVersion(), files) { malformed($0.lhs) || malformed($0.rhs) }
    }

    /// What changed with apk-tools 2.12's rewrite, as current apk answers (`apk version -t`).
    @Test func apkToolsCurrentRules() async throws {
        let apk = ApkVersion()
        // A pre-release suffix after a zero component still sorts before the release.
        #expect(try apk.compare("6.0_pre1", "6.0") == .less)
        #expect(try apk.compare("1.0_alpha", "1.0") == .less)
        #expect(try apk.compare("1.0_p1", "1.0") == .greater)
        // A component with a leading zero compares as text.
        #expect(try apk.compare("8.2.0", "8.2.001") == .less)
        #expect(try apk.compare("8.2.0015", "8.2.002") == .less)
        #expect(try apk.compare("1.01", "1.1") == .less)
        // A commit hash (~hex) before the revision compares as text.
        #expect(try apk.compare("1.0~1234", "1.0~2345") == .less)
        #expect(try apk.compare("1.0~1234-r1", "1.0~2345-r0") == .less)
        #expect(try apk.compare("1.0~1234-r1", "1.0~1234-r0") == .greater)
        // Validity.
        #expect(ApkVersion.isValid("1.2.3_rc1_p2-r10"))
        #expect(ApkVersion.isValid("0.1_pre2~1234abcd-r3"))
        #expect(!ApkVersion.isValid("6.6.2p1"))
        #expect(!ApkVersion.isValid("1.0_blah"))
        #expect(!ApkVersion.isValid("1.0~ABCD"))
        #expect(!ApkVersion.isValid("1.0-r"))
        // An installed version apk rejects is in no range (its comparisons stop at the bad token).
        #expect(try apk.compare("6.6.2p1", "6.6.2p9") == .equal)
        #expect(throws: VersionError.self) { try apk.validate("6.6.2p1") }
        try apk.validate("1.2.3_rc1_p2-r10")
    }

    @Test func pep440() async throws {
        try check(PEP440Version(), ["scalibr/pypi-versions.txt", "scalibr/pypi-versions-generated.txt", "pep440/packaging-versions.txt"])
    }

    @Test func pep440RejectsWhatPackagingRejects() async throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("versions/pep440/packaging-invalid.txt"), encoding: .utf8)
        let invalid = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(!invalid.isEmpty)
        for version in invalid {
            #expect(throws: VersionError.self, "\(version)") { try PEP440Version().parse(version) }
            // An installed package with such a version is in no range (validate is what matching asks).
            #expect(throws: VersionError.self, "\(version)") { try PEP440Version().validate(version) }
        }
    }

    @Test func semver() async throws {
        try check(SemanticVersion(flavour: .strict), ["npm-semver/comparisons.txt", "npm-semver/equality.txt"])
        // scalibr's (and OSV's) SEMVER ordering is lenient: any number of components, any size.
        try check(
            SemanticVersion(flavour: .loose),
            ["scalibr/semver-versions.txt", "npm-semver/comparisons-loose.txt", "npm-semver/equality-loose.txt"])
    }

    @Test func goVersions() async throws {
        let go = SemanticVersion(flavour: .go)
        #expect(try go.compare("v1.2.3", "v1.10.0") == .less)
        #expect(try go.compare("v0.0.0-20210101000000-abcdefabcdef", "v0.0.1") == .less)
        #expect(try go.compare("v1.2.4-0.20230101000000-abcdefabcdef", "v1.2.3") == .greater)
        #expect(try go.compare("v1", "v1.0.0") == .equal)
        // With or without the module `v`: OSV's Go ranges and stdlib versions have none.
        #expect(try go.compare("1.2.3", "v1.2.3") == .equal)
        #expect(try go.compare("1.15.5", "v1.25.1") == .less)
        #expect(try go.compare("v1.25.1", "1.15.5") == .greater)
        #expect(throws: VersionError.self) { try go.compare("1.x", "v1.2.3") }
    }
}

@Suite struct MavenVectorTests {
    @Test func maven() async throws {
        try VersionVectorTests().check(MavenVersion(), ["scalibr/maven-versions.txt", "scalibr/maven-versions-generated.txt"])
    }

    /// A documented exception to "a comparator is a total order", found again by the fuzz target:
    /// Maven 3's ComparableVersion, which fathom follows (as osv-scalibr's vectors above do), has
    /// cycles (MNG-6568). fathom keeps Maven 3's answers, because they decide what Maven itself
    /// resolves; Maven fixed the cycle only in its 4.x compat layer (September 2026). If this test
    /// fails, the order changed: check the vectors above and `Fuzz/Targets/FuzzVersions`.
    @Test func mavenOrdersAsMaven3EvenWhereItCycles() throws {
        let maven = MavenVersion()
        #expect(try maven.compare("0-alpha", "x") == .greater)
        #expect(try maven.compare("x", "0") == .greater)
        #expect(try maven.compare("0", "0-alpha") == .greater)
    }
}

/// The published vectors of RubyGems, composer/semver and NuGet.Client (see each folder's
/// PROVENANCE.md): every ordering, every rejected string, and Composer's normalized forms.
@Suite struct LanguageVectorTests {
    static func lines(_ relative: String) throws -> [String] {
        try String(contentsOf: Fixtures.root.appendingPathComponent("versions/\(relative)"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    static func expectRejected(_ comparator: any VersionComparator, _ file: String) throws {
        let invalid = try lines(file)
        #expect(!invalid.isEmpty)
        for version in invalid {
            #expect(throws: VersionError.self, "'\(version)' is invalid") { try comparator.compare(version, "1.0") }
        }
    }

    @Test func rubyGems() throws {
        try VersionVectorTests().check(RubyGemsVersion(), ["rubygems/comparisons.txt"])
        try Self.expectRejected(RubyGemsVersion(), "rubygems/invalid.txt")
        let prerelease = try Self.lines("rubygems/prerelease.txt")
        #expect(!prerelease.isEmpty)
        for line in prerelease {
            let parts = line.split(separator: " ")
            #expect(try RubyGemsVersion().isPrerelease(String(parts[0])) == (parts[1] == "true"), "\(line)")
        }
    }

    /// Composer's Comparator orders a `dev-` branch below every version (it compares the raw
    /// strings); fathom refuses to order one instead: a branch says nothing about which
    /// release's code it holds, so no advisory range can place it.
    @Test func composer() throws {
        let composer = ComposerVersion()
        try VersionVectorTests().check(composer, ["composer/comparisons.txt", "composer/sort-order.txt"]) {
            $0.lhs.hasPrefix("dev-") || $0.rhs.hasPrefix("dev-")
        }
        #expect(throws: VersionError.self) { try composer.compare("dev-foo", "0.12") }
        let normalized = try Self.lines("composer/normalize.tsv").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(normalized.count > 50)
        var wrong: [String] = []
        for pair in normalized where pair.count == 2 {
            let ours = (try? composer.normalize(String(pair[0]))) ?? "invalid"
            if ours != pair[1] { wrong.append("\(pair[0]) → \(ours), not \(pair[1])") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
        for version in try Self.lines("composer/normalize-invalid.txt") {
            #expect(throws: VersionError.self, "'\(version)' is invalid") { try composer.normalize(version) }
        }
    }

    @Test func nuGet() throws {
        let nuget = NuGetVersion()
        try VersionVectorTests().check(nuget, ["nuget/comparisons.txt"])
        try Self.expectRejected(nuget, "nuget/invalid.txt")
        for version in try Self.lines("nuget/valid.txt") {
            #expect(throws: Never.self, "'\(version)' is valid") { try nuget.compare(version, version) }
        }
    }
}
