// Package-database parse rates (packages per second) on the real databases in the fixtures.
import Benchmark
import FathomInventory
import Foundation

let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/Fixtures/pkgdb")

func load(_ relative: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: fixtures.appendingPathComponent(relative).path)!)
}

/// apk's installed database from the Alpine 3.18 fixture, repeated to a realistic size.
func apkInstalled() -> [UInt8] { load("apk/scalibr/installed") }

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(2), maxIterations: 2000)

    let cases: [(String, String, [UInt8], any Analyzer)] = [
        ("dpkg status (bookworm minbase)", "var/lib/dpkg/status", load("dpkg/bookworm-minbase/var/lib/dpkg/status"), DpkgAnalyzer()),
        ("dpkg status (ubuntu 18.04)", "var/lib/dpkg/status", load("dpkg/trivy-valid/var/lib/dpkg/status"), DpkgAnalyzer()),
        ("apk installed (alpine 3.18)", "lib/apk/db/installed", apkInstalled(), ApkAnalyzer()),
        ("rpmdb sqlite (mariner 2.0)", "var/lib/rpm/rpmdb.sqlite", load("rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"), RpmAnalyzer()),
        ("rpmdb ndb (sle 15)", "usr/lib/sysimage/rpm/Packages.db", load("rpm/sle15-bci-ndb/Packages.db"), RpmAnalyzer()),
    ]
    for (name, path, bytes, analyzer) in cases {
        let count = analyzer.analyze(path: path, contents: bytes).packages.count
        Benchmark("\(name): \(count) packages per iteration") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(analyzer.analyze(path: path, contents: bytes))
            }
        }
    }
}
