@testable import FathomAdvisory
import FathomTestSupport
import Foundation
import Testing

/// CVSS base scores against the `cvss` reference library (Red Hat's implementation of FIRST's
/// v2, v3.x and v4.0 calculators; `scripts/test` installs it from PyPI), on real vectors from
/// RustSec's records and on thousands of random ones.
@Suite(.timeLimit(.minutes(2))) struct CVSSTests {
    /// Scores `vectors` with the reference library: one score (or "invalid") per line.
    static func oracle(_ vectors: [String]) async throws -> [String] {
        let library = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let program = """
            import sys
            from cvss import CVSS2, CVSS3, CVSS4
            for line in sys.stdin.read().splitlines():
                try:
                    kind = CVSS4 if line.startswith('CVSS:4.0/') else CVSS3 if line.startswith('CVSS:3') else CVSS2
                    print(kind(line).base_score if kind is CVSS4 else kind(line).scores()[0])
                except Exception:
                    print('invalid')
            """
        let output = try await Tool.run(
            ["python3", "-c", program], input: Data(vectors.joined(separator: "\n").utf8), environment: ["PYTHONPATH": library],
            check: false)
        #expect(
            output.status == 0,
            "the cvss reference library is missing (scripts/test installs it into .build/python-oracle): \(output.errorText)")
        return output.text.split(separator: "\n").map(String.init)
    }

    static func compare(_ vectors: [String]) async throws {
        let expected = try await oracle(vectors)
        try #require(expected.count == vectors.count)
        // Every vector here is valid: an "invalid" from the reference would make agreement vacuous.
        #expect(expected.allSatisfy { Double($0) != nil }, "the reference refused some vectors: \(expected.filter { Double($0) == nil }.count)")
        var mismatches: [String] = []
        for (vector, want) in zip(vectors, expected) {
            let got = CVSSScore(vector: vector, source: "test").map { String($0.score) } ?? "invalid"
            if got != want && Double(got) != Double(want) { mismatches.append("\(vector): fathom \(got), reference \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(vectors.count) differ:\n\(mismatches.prefix(10).joined(separator: "\n"))")
    }

    static func random(_ metrics: [(String, [String])], optional: [(String, [String])] = [], using generator: inout SplitMix64) -> String {
        var parts = metrics.map { "\($0.0):\($0.1.randomElement(using: &generator)!)" }
        if Bool.random(using: &generator) {
            parts += optional.map { "\($0.0):\($0.1.randomElement(using: &generator)!)" }
        }
        return parts.joined(separator: "/")
    }

    @Test func realRustSecVectorsScoreAsTheReference() async throws {
        let directory = Fixtures.root.appendingPathComponent("advisories/osv-crates-sample/crates").path
        var vectors: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let record = try JSONDecoder().decode(OSVRecord.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
            vectors += (record.severity ?? []).filter { $0.type.hasPrefix("CVSS_V") }.map(\.score)
        }
        #expect(vectors.filter { $0.hasPrefix("CVSS:4.0/") }.count >= 50)
        #expect(vectors.filter { $0.hasPrefix("CVSS:3") }.count >= 50)
        try await Self.compare(vectors)
    }

    @Test func randomV4VectorsWithThreatAndEnvironmentalMetricsScoreAsTheReference() async throws {
        var generator = SplitMix64(state: 4)
        let base: [(String, [String])] = [
            ("AV", ["N", "A", "L", "P"]), ("AC", ["L", "H"]), ("AT", ["N", "P"]), ("PR", ["N", "L", "H"]), ("UI", ["N", "P", "A"]),
            ("VC", ["H", "L", "N"]), ("VI", ["H", "L", "N"]), ("VA", ["H", "L", "N"]),
            ("SC", ["H", "L", "N"]), ("SI", ["H", "L", "N"]), ("SA", ["H", "L", "N"]),
        ]
        let more: [(String, [String])] = [
            ("E", ["X", "A", "P", "U"]), ("CR", ["X", "H", "M", "L"]), ("IR", ["X", "H", "M", "L"]), ("AR", ["X", "H", "M", "L"]),
            ("MAV", ["X", "N", "A", "L", "P"]), ("MAC", ["X", "L", "H"]), ("MAT", ["X", "N", "P"]), ("MPR", ["X", "N", "L", "H"]),
            ("MUI", ["X", "N", "P", "A"]), ("MVC", ["X", "H", "L", "N"]), ("MVI", ["X", "H", "L", "N"]), ("MVA", ["X", "H", "L", "N"]),
            ("MSC", ["X", "H", "L", "N"]), ("MSI", ["X", "S", "H", "L", "N"]), ("MSA", ["X", "S", "H", "L", "N"]),
        ]
        let vectors = (0..<4000).map { _ in "CVSS:4.0/" + Self.random(base, optional: more, using: &generator) }
        try await Self.compare(vectors)
    }

    @Test func randomV3AndV2VectorsScoreAsTheReference() async throws {
        var generator = SplitMix64(state: 3)
        let v3: [(String, [String])] = [
            ("AV", ["N", "A", "L", "P"]), ("AC", ["L", "H"]), ("PR", ["N", "L", "H"]), ("UI", ["N", "R"]), ("S", ["U", "C"]),
            ("C", ["H", "L", "N"]), ("I", ["H", "L", "N"]), ("A", ["H", "L", "N"]),
        ]
        let v2: [(String, [String])] = [
            ("AV", ["L", "A", "N"]), ("AC", ["H", "M", "L"]), ("Au", ["M", "S", "N"]), ("C", ["N", "P", "C"]), ("I", ["N", "P", "C"]),
            ("A", ["N", "P", "C"]),
        ]
        var vectors = (0..<1500).map { _ in "CVSS:3.1/" + Self.random(v3, using: &generator) }
        vectors += (0..<500).map { _ in "CVSS:3.0/" + Self.random(v3, using: &generator) }
        vectors += (0..<800).map { _ in Self.random(v2, using: &generator) }
        try await Self.compare(vectors)
    }

    /// Vectors the specification calls invalid are refused, not scored.
    @Test func malformedVectorsAreRefused() async throws {
        let vectors = [
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",  // SA missing
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",  // S only for MSI
            "CVSS:4.0/AV:N/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",  // duplicate
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H",  // S missing
            "AV:N/AC:Q/Au:N/C:P/I:P/A:P",
        ]
        for vector in vectors { #expect(CVSSScore(vector: vector, source: "test") == nil, "\(vector)") }
        #expect(try await Self.oracle(vectors) == Array(repeating: "invalid", count: vectors.count))
    }
}
