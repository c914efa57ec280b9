import ArgumentParser
import FathomCore
import FathomLayer
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomReport
import FathomStore
import Foundation
import Synchronization

/// `fathom rescan`: re-match every stored image against the current advisories, from the
/// store's layer facts (no blob is downloaded), and say what changed per image.
struct Rescan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-match every stored image against the current advisories.",
        discussion: """
            No blob is downloaded. Registry tags are re-checked with a manifest HEAD (skip with
            --offline): a tag that moved is scanned again, reading only its new layers.
            """)

    @Flag(help: "Only images last matched against older advisory data than the store now holds.")
    var sinceDbChange = false

    @Flag(help: "Do not check registry tags for new images; re-match the stored ones.")
    var offline = false

    @Option(help: "Output format: table or json.")
    var format: Scan.Format = .table

    @Option(help: "Images in flight at once (default: 16 per core, at least 64).")
    var concurrency: Int?

    @Flag(help: "No progress display.")
    var quiet = false

    @OptionGroup var registryOptions: RegistryOptions
    @OptionGroup var storeOption: StoreOption

    func run() async throws {
        bootstrapLogging()
        let store = try storeOption.open()
        let advisoryVersion = try store.advisoryVersion()
        var records = try store.latestScans()
        if sinceDbChange { records = records.filter { $0.advisoryVersion != advisoryVersion } }
        let registries = Set(records.compactMap { record -> String? in
            guard case .registry(let reference) = try? SourceReference(parsing: record.name) else { return nil }
            return reference.registry
        })
        let client = offline || registries.isEmpty ? nil : try registryOptions.makeClient(for: registries.sorted().first)
        let fleet = FleetScanner(
            scanner: ImageScanner(cache: LayerCache(store: store)), store: store, index: try store.advisories(),
            advisoryVersion: advisoryVersion, imageConcurrency: concurrency ?? FleetScanner.defaultImageConcurrency())
        fleet.progress.setTotal(records.count)
        let warnings = Mutex<[String]>([])
        // A registry that does not answer is not asked about every one of its images.
        let unreachable = Mutex<Set<String>>([])
        if client != nil {
            let probe = try registryOptions.makeClient(for: registries.sorted().first, maxAttempts: 1)
            for registry in registries.sorted() {
                do {
                    try await probe.ping(registry)
                } catch {
                    unreachable.withLock { _ = $0.insert(registry) }
                    warnings.withLock { $0.append("\(registry): tags not re-checked, the registry did not answer: \(error)") }
                }
            }
            try await probe.shutdown()
        }
        let display = ProgressDisplay(fleet.progress, quiet: quiet)
        var report = RescanReport(advisoryVersion: advisoryVersion)
        let started = ContinuousClock.now
        do {
            try await fleet.run(records.async, operation: { record in
                if let client, case .registry(let reference) = try? SourceReference(parsing: record.name), reference.digest == nil,
                    !unreachable.withLock({ $0.contains(reference.registry) })
                {
                    do {
                        let current = try await client.manifestDigest(reference)
                        if current != record.image.taggedDigest {
                            let source = RegistryImageSource(reference: reference, client: client, documents: store)
                            return await fleet.scan(
                                FleetJob(name: record.name, source: source, repository: reference.repository, tag: reference.tag))
                        }
                    } catch {
                        // The stored image is still worth re-matching; say the tag was not checked.
                        warnings.withLock { $0.append("\(record.name): tag not re-checked: \(FathomError.wrapping(error))") }
                    }
                }
                return await fleet.rematch(record)
            }) { outcome in report.add(outcome) }
        } catch {
            await display.stop()
            if let client { try? await client.shutdown() }
            printError("\(error)")
            throw ExitCode(1)
        }
        await display.stop()
        if let client { try await client.shutdown() }
        report.finish(elapsed: ContinuousClock.now - started, warnings: warnings.withLock { $0 })
        let text = format == .json ? try report.json() : report.table()
        FileHandle.standardOutput.write(Data(text.utf8))
        if report.failed > 0 { throw ExitCode(1) }
    }
}
