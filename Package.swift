// swift-tools-version: 6.1
// fathom: a container-registry vulnerability scanner built as a parallel scan worker pool.
import PackageDescription

let package = Package(
    name: "fathom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fathom", targets: ["fathom"]),
        .library(name: "FathomCore", targets: ["FathomCore"]),
        .library(name: "FathomOCI", targets: ["FathomOCI"]),
        .library(name: "FathomVersion", targets: ["FathomVersion"]),
        .library(name: "FathomRegistry", targets: ["FathomRegistry"]),
        .library(name: "FathomArchive", targets: ["FathomArchive"]),
        .library(name: "FathomSource", targets: ["FathomSource"]),
        .library(name: "FathomInventory", targets: ["FathomInventory"]),
        .library(name: "FathomPipeline", targets: ["FathomPipeline"]),
        .library(name: "FathomAdvisory", targets: ["FathomAdvisory"]),
        .library(name: "FathomSQLite", targets: ["FathomSQLite"]),
        .library(name: "FathomStore", targets: ["FathomStore"]),
        .library(name: "FathomSQLiteStore", targets: ["FathomSQLiteStore"]),
        .library(name: "FathomPostgresStore", targets: ["FathomPostgresStore"]),
        .library(name: "FathomStores", targets: ["FathomStores"]),
        .library(name: "FathomReport", targets: ["FathomReport"]),
        .library(name: "FathomEngine", targets: ["FathomEngine"]),
        .library(name: "FathomFeeds", targets: ["FathomFeeds"]),
        .library(name: "FathomServer", targets: ["FathomServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.0.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
    ],
    targets: [
        // System libraries, each imported by exactly one Swift module: zlib and libzstd by
        // FathomArchive, libsqlite3 by FathomSQLite.
        .systemLibrary(
            name: "CFathomZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(
            name: "CFathomZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(
            name: "CFathomSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),

        .target(
            name: "FathomCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]),
        .target(name: "FathomOCI", dependencies: ["FathomCore"]),
        .target(name: "FathomVersion", dependencies: ["FathomCore"]),
        // Byte codecs only (gzip, zstd, tar, ZIP, the layer reader): no network, no images.
        .target(name: "FathomArchive", dependencies: ["FathomCore", "CFathomZlib", "CFathomZstd"]),
        // One SQLite connection, no threads of its own: the rpmdb reader needs no more.
        .target(name: "FathomSQLite", dependencies: ["FathomCore", "CFathomSQLite"]),
        .target(
            name: "FathomRegistry",
            dependencies: [
                "FathomCore", "FathomOCI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]),
        // Image sources: registry, OCI layout, docker archive; they hand blobs to FathomArchive.
        .target(
            name: "FathomSource",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomArchive",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "FathomInventory", dependencies: ["FathomCore", "FathomArchive", "FathomSQLite"]),
        .target(
            name: "FathomAdvisory",
            dependencies: [
                "FathomCore", "FathomVersion", "FathomInventory", "FathomArchive",
                .product(name: "Yams", package: "Yams"),
            ]),
        // What a store is (the protocols and the records they carry), linking no database.
        .target(name: "FathomStore", dependencies: ["FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory"]),
        // The embedded store: SQLite on threads of its own (NIO thread pools).
        .target(
            name: "FathomSQLiteStore",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory", "FathomStore", "FathomSQLite",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // The shared store of the service's processes.
        .target(
            name: "FathomPostgresStore",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory", "FathomStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Opens the store a location names (the only module that knows both).
        .target(name: "FathomStores", dependencies: ["FathomCore", "FathomStore", "FathomSQLiteStore", "FathomPostgresStore"]),
        // Keeping advisory feeds current over HTTP (apart from FathomAdvisory, which only reads bytes).
        .target(
            name: "FathomFeeds",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomArchive", "FathomRegistry", "FathomAdvisory", "FathomStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(
            name: "FathomPipeline",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomSource", "FathomArchive", "FathomInventory", "FathomAdvisory",
                "FathomStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]),
        // The report document and its formats: values in, text out (no network, no database).
        .target(
            name: "FathomReport",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory", "FathomStore",
                .product(name: "Mustache", package: "swift-mustache"),
            ]),
        // The scan engine every front door calls: the pipeline's outcome judged by the policy, made a report.
        .target(
            name: "FathomEngine",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomInventory", "FathomAdvisory", "FathomStore", "FathomRegistry", "FathomPipeline", "FathomReport",
            ]),
        // The service: HTTP API, registry webhook, job queue workers (Hummingbird, service-lifecycle).
        .target(
            name: "FathomServer",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomSource", "FathomAdvisory", "FathomPipeline", "FathomReport",
                "FathomEngine", "FathomStore", "FathomFeeds",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "fathom",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomSource", "FathomInventory", "FathomPipeline",
                "FathomReport", "FathomEngine", "FathomVersion", "FathomAdvisory", "FathomStore", "FathomStores", "FathomFeeds", "FathomServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),

        .target(
            name: "FathomTestSupport",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomStore", "FathomStores",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            path: "Tests/FathomTestSupport"),
        .testTarget(name: "FathomCoreTests", dependencies: ["FathomCore", "FathomTestSupport"]),
        .testTarget(name: "FathomOCITests", dependencies: ["FathomCore", "FathomOCI"]),
        .testTarget(name: "FathomArchiveTests", dependencies: ["FathomCore", "FathomArchive", "FathomTestSupport"]),
        .testTarget(name: "FathomVersionTests", dependencies: ["FathomVersion", "FathomTestSupport"]),
        .testTarget(
            name: "FathomAdvisoryTests",
            dependencies: [
                "FathomAdvisory", "FathomInventory", "FathomVersion", "FathomArchive", "FathomPipeline", "FathomStore", "FathomSQLiteStore", "FathomPostgresStore", "FathomStores", "FathomEngine",
                "FathomTestSupport",
            ]),
        .testTarget(
            name: "FathomRegistryTests",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomSource", "FathomArchive", "FathomInventory", "FathomPipeline",
                "FathomAdvisory", "FathomStore", "FathomSQLiteStore", "FathomPostgresStore", "FathomStores", "FathomEngine", "FathomReport",
                "FathomTestSupport", .product(name: "Yams", package: "Yams"),
            ]),
        .testTarget(
            name: "FathomSourceTests",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomArchive", "FathomSource", "FathomInventory", "FathomPipeline", "FathomTestSupport",
            ]),
        .testTarget(
            name: "FathomPipelineTests",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomRegistry", "FathomSource", "FathomArchive", "FathomInventory", "FathomAdvisory",
                "FathomStore", "FathomSQLiteStore", "FathomPostgresStore", "FathomStores", "FathomEngine", "FathomSQLite", "FathomPipeline", "FathomTestSupport",
            ]),
        // The store protocols' promises, on both stores (SQLite, and a real PostgreSQL).
        .testTarget(
            name: "FathomStoreTests",
            dependencies: [
                "FathomCore", "FathomAdvisory", "FathomStore", "FathomSQLiteStore", "FathomPostgresStore", "FathomStores", "FathomTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        // The report document and the fleet views, from values.
        .testTarget(name: "FathomReportTests", dependencies: ["FathomCore", "FathomAdvisory", "FathomInventory", "FathomStore", "FathomReport"]),
        // The command line's own parsing (flags, policy, durations), without running a scan.
        .testTarget(name: "FathomCLITests", dependencies: ["fathom", "FathomAdvisory", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The service's router driven in-process (HummingbirdTesting), beside the process-level tests.
        .testTarget(
            name: "FathomServerTests",
            dependencies: [
                "FathomCore", "FathomOCI", "FathomStore", "FathomSQLiteStore", "FathomPostgresStore", "FathomStores", "FathomEngine", "FathomServer", "FathomAdvisory", "FathomReport",
                "FathomInventory", "FathomTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .testTarget(
            name: "FathomInventoryTests",
            dependencies: ["FathomCore", "FathomOCI", "FathomArchive", "FathomSource", "FathomInventory", "FathomPipeline", "FathomTestSupport"]),
        // The accuracy gate: reviewed golden findings per fixture image and feed set.
        .testTarget(name: "FathomAccuracyTests", dependencies: ["FathomCore", "FathomTestSupport"], path: "Tests/Accuracy", exclude: ["golden", "roots", "README.md"]),
    ],
    swiftLanguageModes: [.v6]
)

// Test targets that use the support module see the NIO modules it builds on (SwiftPM passes
// C module maps such as CNIOAtomics only to direct dependents).
for target in package.targets where target.isTest && target.dependencies.contains(where: { "\($0)".contains("FathomTestSupport") }) {
    target.dependencies += [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
    ]
}

// Settings every target shares (swift-nio's cross-repo loop, with Hummingbird's upcoming features).
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}

// libFuzzer targets (`Fuzz/run.sh` builds them with FATHOM_FUZZ=1, into `.build-fuzz`, with
// `-sanitize=fuzzer,address`); absent from ordinary builds, which have no libFuzzer `main`.
if Context.environment["FATHOM_FUZZ"] != nil {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Support"))
    let fuzzed: [String: [Target.Dependency]] = [
        "FuzzTar": ["FathomArchive", "FathomCore"], "FuzzGzip": ["FathomArchive", "FathomCore"],
        "FuzzZstd": ["FathomArchive", "FathomCore"], "FuzzDpkg": ["FathomInventory"], "FuzzApk": ["FathomInventory"],
        "FuzzRpm": ["FathomInventory"], "FuzzAdvisories": ["FathomAdvisory"], "FuzzOCI": ["FathomOCI"],
        "FuzzVersions": ["FathomVersion"],
    ]
    for (name, dependencies) in fuzzed.sorted(by: { $0.key < $1.key }) {
        package.targets.append(.executableTarget(name: name, dependencies: dependencies + ["FuzzSupport"], path: "Fuzz/Targets/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
