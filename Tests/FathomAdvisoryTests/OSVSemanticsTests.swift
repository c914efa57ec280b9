import FathomAdvisory
import FathomInventory
import FathomVersion
import Testing

/// OSV range evaluation on small hand-written documents, one behaviour each.
@Suite struct OSVSemanticsTests {
    typealias Event = OSVRecord.Event

    func affected(_ events: [Event], type: String = "ECOSYSTEM", versions: [String]? = nil) -> OSVRecord.Affected {
        OSVRecord.Affected(
            package: .init(ecosystem: "PyPI", name: "demo", purl: nil),
            ranges: [.init(type: type, repo: nil, events: events)], versions: versions, severity: nil)
    }

    func verdict(_ version: String, _ affected: OSVRecord.Affected) -> RangeVerdict {
        affected.evaluate(version, comparator: PEP440Version())
    }

    @Test func introducedAndFixed() {
        let range = affected([Event(introduced: "1.0"), Event(fixed: "1.5")])
        #expect(verdict("0.9", range) == .notAffected)
        #expect(verdict("1.0", range) == .affected(fixed: "1.5"))
        #expect(verdict("1.4.9", range) == .affected(fixed: "1.5"))
        #expect(verdict("1.5", range) == .notAffected)  // fixed is exclusive
        #expect(verdict("2.0", range) == .notAffected)
    }

    @Test func introducedZeroMeansEveryVersion() {
        let range = affected([Event(introduced: "0"), Event(fixed: "2.0")])
        #expect(verdict("0.0.1", range) == .affected(fixed: "2.0"))
        #expect(verdict("2.0", range) == .notAffected)
    }

    @Test func lastAffectedIsInclusive() {
        let range = affected([Event(introduced: "1.0"), Event(lastAffected: "1.3")])
        #expect(verdict("1.3", range) == .affected(fixed: nil))
        #expect(verdict("1.3.1", range) == .notAffected)
    }

    @Test func noUpperBoundMeansStillAffected() {
        let range = affected([Event(introduced: "2.0")])
        #expect(verdict("99", range) == .affected(fixed: nil))
        #expect(verdict("1.9", range) == .notAffected)
    }

    @Test func limitBoundsTheRange() {
        let range = affected([Event(introduced: "0"), Event(limit: "3.0")])
        #expect(verdict("2.9", range) == .affected(fixed: nil))
        #expect(verdict("3.0", range) == .notAffected)
    }

    @Test func severalIntervalsInOneRangeAreSortedFirst() {
        // Events out of order on purpose: evaluation sorts them.
        let range = affected([Event(fixed: "1.2"), Event(introduced: "2.0"), Event(introduced: "1.0"), Event(fixed: "2.3")])
        #expect(verdict("1.1", range) == .affected(fixed: "1.2"))
        #expect(verdict("1.5", range) == .notAffected)
        #expect(verdict("2.1", range) == .affected(fixed: "2.3"))
        #expect(verdict("2.3", range) == .notAffected)
    }

    @Test func multipleRangesAnyMatches() {
        let both = OSVRecord.Affected(
            package: .init(ecosystem: "PyPI", name: "demo", purl: nil),
            ranges: [
                .init(type: "ECOSYSTEM", repo: nil, events: [Event(introduced: "1.0"), Event(fixed: "1.1")]),
                .init(type: "ECOSYSTEM", repo: nil, events: [Event(introduced: "3.0"), Event(fixed: "3.2")]),
            ], versions: nil, severity: nil)
        #expect(verdict("1.0.5", both) == .affected(fixed: "1.1"))
        #expect(verdict("3.1", both) == .affected(fixed: "3.2"))
        #expect(verdict("2.0", both) == .notAffected)
    }

    @Test func explicitVersionsListAndGitRangesIgnored() {
        let listed = affected([Event(introduced: "0a1b2c"), Event(fixed: "9f8e7d")], type: "GIT", versions: ["1.0", "1.1"])
        #expect(verdict("1.1", listed) == .affected(fixed: nil))
        #expect(verdict("1.2", listed) == .notAffected)  // the GIT range is recorded, not matched
    }

    @Test func withdrawnRecordsAreNotIndexed() {
        var record = OSVRecord(id: "OSV-1", affected: [affected([Event(introduced: "0")])])
        record.withdrawn = "2024-01-01T00:00:00Z"
        var index = AdvisoryIndex()
        index.add([record], source: "test")
        let package = Package(ecosystem: "pypi", name: "Demo", version: "1.0", path: "x")
        #expect(index.match(package, osNamespace: nil).isEmpty)
        index.add([OSVRecord(id: "OSV-2", affected: [affected([Event(introduced: "0")])])], source: "test")
        #expect(index.match(package, osNamespace: nil).map(\.record.id) == ["OSV-2"])  // PEP 503 name match
    }

    @Test func semverRangesUseSemVerOrdering() {
        let range = OSVRecord.Affected(
            package: .init(ecosystem: "Go", name: "stdlib", purl: nil),
            ranges: [.init(type: "SEMVER", repo: nil, events: [Event(introduced: "0"), Event(fixed: "1.15.5")])], versions: nil,
            severity: nil)
        #expect(range.evaluate("1.15.2", comparator: SemanticVersion(flavour: .loose)) == .affected(fixed: "1.15.5"))
        #expect(range.evaluate("1.16.0", comparator: SemanticVersion(flavour: .loose)) == .notAffected)
    }
}

/// CVSS v3 base scores against the scores NVD publishes for the same vectors.
@Suite struct CVSSExampleTests {
    @Test(arguments: [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  // e.g. CVE-2021-44228's base vector scores 10.0 with S:C
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),  // CVE-2021-44228
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),  // CVE-2014-0160 class
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  // typical reflected XSS
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  // local privilege escalation
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),  // remote DoS
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ])
    func baseScores(_ vector: String, _ score: Double) throws {
        let cvss = try #require(CVSSScore(vector: vector, source: "test"))
        #expect(cvss.score == score)
    }

    @Test func invalidVectorsAndSeverityBands() {
        #expect(CVSSScore(vector: "CVSS:2.0/AV:N", source: "test") == nil)
        #expect(CVSSScore(vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:X/C:H/I:H/A:H", source: "test") == nil)
        #expect(CVSSScore(vector: "CVSS:3.1/AV:N/AC:L", source: "test") == nil)
        #expect(Severity(score: 9.8) == .critical && Severity(score: 7.5) == .high && Severity(score: 5.9) == .medium)
        #expect(Severity(score: 1.6) == .low && Severity(score: 0) == .unknown)
        #expect(Severity(feedWord: "moderate") == .medium)
        #expect(Severity.critical > Severity.high)
    }
}

/// The index ranks each package's event versions once and evaluates ranges on positions; that
/// must agree with evaluating the spec's walk directly, for every kind of range.
@Suite struct RankedEvaluationTests {
    typealias Event = OSVRecord.Event

    @Test func rankedAndDirectEvaluationAgree() {
        let ranges: [[Event]] = [
            [Event(introduced: "1.0"), Event(fixed: "1.5")],
            [Event(introduced: "0"), Event(fixed: "2.0")],
            [Event(introduced: "1.0"), Event(lastAffected: "1.3")],
            [Event(introduced: "2.0")],
            [Event(introduced: "0"), Event(limit: "3.0")],
            [Event(fixed: "1.2"), Event(introduced: "2.0"), Event(introduced: "1.0"), Event(fixed: "2.3")],
            [Event(introduced: "1.0.0"), Event(fixed: "1.0.0.post1")],  // equal-comparing spellings share a slot
        ]
        var index = AdvisoryIndex()
        var affectedList: [OSVRecord.Affected] = []
        for (number, events) in ranges.enumerated() {
            let affected = OSVRecord.Affected(package: .init(ecosystem: "PyPI", name: "demo"), ranges: [.init(type: "ECOSYSTEM", events: events)])
            affectedList.append(affected)
            index.add([OSVRecord(id: "R-\(number)", affected: [affected])], source: "test")
        }
        let versions = ["0.1", "0.9", "1.0", "1.0.0", "1.0.0.post1", "1.1", "1.2", "1.3", "1.3.1", "1.4.9", "1.5", "1.9", "2.0", "2.1", "2.3", "2.9", "3.0", "99"]
        for version in versions {
            let package = Package(ecosystem: "pypi", name: "demo", version: version, path: "x")
            let ranked = Dictionary(uniqueKeysWithValues: index.match(package, osNamespace: nil).map { ($0.record.id, $0.fixedVersion) })
            for (number, affected) in affectedList.enumerated() {
                let direct = affected.evaluate(version, comparator: PEP440Version())
                switch direct {
                case .notAffected: #expect(ranked["R-\(number)"] == nil, "R-\(number) at \(version)")
                case .affected(let fixed): #expect(ranked["R-\(number)"] == .some(fixed), "R-\(number) at \(version)")
                }
            }
        }
    }
}
