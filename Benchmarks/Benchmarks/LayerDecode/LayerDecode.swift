// Decode + digest + tar walk of a real layer held in memory, per compression, and the cost of
// the analyzers' path claims on top of a plain walk.
import Benchmark
import FathomCore
import FathomInventory
import FathomArchive
import Foundation

/// The Alpine 3.20.3 minirootfs layer from the repository's fixtures, in each compression.
struct Inputs {
    let gzip: [UInt8]
    let zstd: [UInt8]
    let plain: [UInt8]

    static func load() -> Inputs {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("Tests/Fixtures/images/alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz").path
        let gzip = [UInt8](FileManager.default.contents(atPath: path)!)
        let plain = run(["gzip", "-dc", path])
        let temporary = NSTemporaryDirectory() + "/fathom-bench-\(getpid()).tar"
        FileManager.default.createFile(atPath: temporary, contents: Data(plain))
        let zstd = run(["zstd", "-q", "-c", temporary])
        try? FileManager.default.removeItem(atPath: temporary)
        return Inputs(gzip: gzip, zstd: zstd, plain: plain)
    }

    static func run(_ arguments: [String]) -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try! process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return [UInt8](data)
    }
}

/// Claims nothing: the cost of the walk alone.
struct WalkOnly: TarEntryHandler {
    mutating func claim(_ entry: TarEntry) -> TarBodyClaim { .skip }
}

func read<Handler: TarEntryHandler>(_ bytes: [UInt8], _ handler: inout Handler) async throws -> LayerReadSummary {
    try await LayerReader.read(
        .memory(bytes, chunkSize: 1 << 20),
        expecting: LayerExpectation(digest: Digest.sha256(of: bytes), size: Int64(bytes.count)), handler: &handler)
}

let benchmarks: @Sendable () -> Void = {
    let inputs = Inputs.load()
    let megabytes = inputs.plain.count / 1_000_000
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 50)

    for (name, bytes) in [("gzip", inputs.gzip), ("zstd", inputs.zstd), ("plain", inputs.plain)] {
        Benchmark("digest+decode+walk \(name) alpine-3.20 (\(megabytes) MB tar)") { benchmark in
            for _ in benchmark.scaledIterations {
                var handler = WalkOnly()
                blackHole(try await read(bytes, &handler))
            }
        }
    }

    Benchmark("digest+decode+walk+claims gzip alpine-3.20 (\(megabytes) MB tar)") { benchmark in
        for _ in benchmark.scaledIterations {
            var collector = LayerFactsCollector()
            blackHole(collector.facts(try await read(inputs.gzip, &collector)))
        }
    }

    Benchmark("tar walk + all analyzers, in memory (\(megabytes) MB tar)") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = TarStreamParser()
            var collector = LayerFactsCollector()
            try inputs.plain.withUnsafeBytes { try parser.feed($0, handler: &collector) }
            blackHole(parser.entryCount)
        }
    }

    Benchmark("tar walk only, in memory (\(megabytes) MB tar)") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = TarStreamParser()
            var handler = WalkOnly()
            try inputs.plain.withUnsafeBytes { try parser.feed($0, handler: &handler) }
            blackHole(parser.entryCount)
        }
    }
}
