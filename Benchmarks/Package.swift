// swift-tools-version: 6.1
// fathom's benchmarks: a nested package so the main build and tests never compile them.
import Foundation
import PackageDescription

// A path dependency is named after its folder, which differs between checkouts.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "fathom-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LayerDecode",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FathomCore", package: root),
                .product(name: "FathomArchive", package: root),
                .product(name: "FathomInventory", package: root),
            ],
            path: "Benchmarks/LayerDecode",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Inventory",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FathomInventory", package: root),
            ],
            path: "Benchmarks/Inventory",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Matching",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FathomAdvisory", package: root),
                .product(name: "FathomInventory", package: root),
                .product(name: "FathomVersion", package: root),
            ],
            path: "Benchmarks/Matching",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
