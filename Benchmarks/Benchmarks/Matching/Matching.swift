// Matching speed: 1,000 inventories of ~300 packages against every feed in the fixtures
// (Go vulndb, PyPA, the Debian 12 derived feed, Alpine secdb v3.3–v3.11), index built once.
import Benchmark
import FathomAdvisory
import FathomInventory
import FathomVersion
import Foundation

let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/Fixtures")

func loadRecords() async -> [(String, [OSVRecord])] {
    var feeds: [(String, [OSVRecord])] = []
    for path in ["advisories/osv-go.tar.gz", "advisories/osv-pypi.tar.gz", "advisories/osv-debian12-derived/osv-debian12-derived.tar.gz", "advisories/alpine-secdb"] {
        let records = try! await FeedReader.read(fixtures.appendingPathComponent(path).path).records
        feeds.append((path, records))
    }
    return feeds
}

/// ~300 packages per image: the bookworm minbase (88 deb, whose findings are real) plus 212
/// language packages named in the feeds: one in ten at a version an advisory names (usually
/// vulnerable), the rest at the newest fixed version the feeds name (mostly patched), as a
/// maintained fleet looks. Different for each image.
func inventories(_ feeds: [(String, [OSVRecord])], count: Int) -> [[InventoryEntry]] {
    let status = [UInt8](FileManager.default.contents(atPath: fixtures.appendingPathComponent("pkgdb/dpkg/bookworm-minbase/var/lib/dpkg/status").path)!)
    let debs = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: status).packages
    // Per package: every version the feeds name, and the newest fix across all its advisories.
    var named: [String: (ecosystem: String, name: String, versions: [String], fixes: [String])] = [:]
    for (_, records) in feeds {
        for record in records {
            for affected in record.affected ?? [] {
                guard let package = affected.package, ["Go", "PyPI"].contains(package.ecosystem) else { continue }
                let key = package.ecosystem + " " + package.name
                var entry = named[key] ?? (package.ecosystem == "Go" ? "go" : "pypi", package.name, [], [])
                for range in affected.ranges ?? [] {
                    for event in range.events {
                        if let version = event.fixed ?? event.introduced, version != "0" { entry.versions.append(version) }
                        if let fixed = event.fixed { entry.fixes.append(fixed) }
                    }
                }
                named[key] = entry
            }
        }
    }
    let language: [(String, String, [String], String)] = named.values.compactMap { entry in
        let comparator: any VersionComparator = entry.ecosystem == "go" ? SemanticVersion(flavour: .loose) : PEP440Version()
        guard !entry.versions.isEmpty,
            let newest = entry.fixes.max(by: { (try? comparator.compare($0, $1)) == .less })
        else { return nil }
        return (entry.ecosystem, entry.name, entry.versions, newest)
    }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    var state: UInt64 = 7
    func next() -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33)
    }
    return (0..<count).map { _ in
        var entries = debs.map { InventoryEntry(package: $0, layer: 0) }
        for _ in 0..<212 {
            let (ecosystem, name, versions, newest) = language[next() % language.count]
            let version = next() % 10 == 0 ? versions[next() % versions.count] : newest
            entries.append(InventoryEntry(package: Package(ecosystem: ecosystem, name: name, version: ecosystem == "go" ? "v" + version : version, path: "app"), layer: 1))
        }
        return entries
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(10),
        maxIterations: 3)
    let semaphore = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var feeds: [(String, [OSVRecord])] = []
    Task.detached {
        feeds = await loadRecords()
        semaphore.signal()
    }
    semaphore.wait()
    let recordCount = feeds.reduce(0) { $0 + $1.1.count }

    Benchmark("index build: \(recordCount) advisories") { benchmark in
        for _ in benchmark.scaledIterations {
            var index = AdvisoryIndex()
            for (source, records) in feeds { index.add(records, source: source) }
            blackHole(index)
        }
    }

    var index = AdvisoryIndex()
    for (source, records) in feeds { index.add(records, source: source) }
    let images = inventories(feeds, count: 1000)
    let packages = images.reduce(0) { $0 + $1.count }
    let findingsPerImage = images.prefix(100).reduce(0) { $0 + ImageMatcher.findings($1, osNamespace: "Debian:12", index: index).count } / 100
    Benchmark("match 1000 images (\(packages / 1000) packages, ~\(findingsPerImage) findings each), one core, no cache") { benchmark in
        for _ in benchmark.scaledIterations {
            var findings = 0
            for image in images { findings += ImageMatcher.findings(image, osNamespace: "Debian:12", index: index).count }
            blackHole(findings)
        }
    }

    Benchmark("match 1000 images (\(packages / 1000) packages, ~\(findingsPerImage) findings each), one core, fleet match cache") { benchmark in
        for _ in benchmark.scaledIterations {
            let cache = MatchCache()
            var findings = 0
            for image in images { findings += ImageMatcher.findings(image, osNamespace: "Debian:12", index: index, cache: cache).count }
            blackHole(findings)
        }
    }
}
