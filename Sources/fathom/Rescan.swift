import ArgumentParser
import FathomAdvisory
import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomEngine
import FathomReport
import FathomStore
import Foundation

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

    /// What a rescan prints: what changed per image (reports in other formats are `scan`'s and `registry --output`'s).
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(name: .shortAndLong, help: "Output format: table or json (what changed per image; reports in other formats: fathom scan or fathom registry --output).")
    var format: Format = .table

    @Option(help: "Images in flight at once (default: 16 per core, at least 64).")
    var concurrency: Int?

    @Flag(name: .shortAndLong, help: "No progress display.")
    var quiet = false

    @OptionGroup var registryOptions: RegistryOptions
    @OptionGroup var storeOption: StoreOption

    @OptionGroup var timeoutOption: TimeoutOption
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        bootstrapLogging()
        let watchdog = try timeoutOption.start("the rescan")
        defer { watchdog?.cancel() }
        let store = try await storeOption.open()
        // An empty history is not "0 changed, all well": say there was nothing to rescan.
        if try await store.latestScanHeads(after: nil, limit: 1, notMatchedAgainst: nil).isEmpty {
            try await store.close()
            printError("\(store.location) holds no scans to rescan: scan images first (fathom scan, fathom registry)")
            throw ExitCode(1)
        }
        let registries = offline ? [] : FleetRescan.registries(of: try await store.scannedNames())
        let client = offline || registries.isEmpty ? nil : try registryOptions.makeClient(for: registries.first)
        let policy = try policyOptions.policy()
        let session = try await ScanSession.open(
            store: store, scanner: ImageScanner(cache: LayerCache(store: store)), policy: policy,
            imageConcurrency: concurrency ?? FleetScanner.defaultImageConcurrency())
        let fleet = session.fleet
        let advisoryVersion = fleet.advisoryVersion
        let rescan = FleetRescan(fleet: fleet, client: client, documents: store)
        let display = ProgressDisplay(fleet.progress, quiet: quiet)
        var report = RescanReport(advisoryVersion: advisoryVersion)
        let started = ContinuousClock.now
        var warnings: [String]
        var tally = FleetPolicyTally()
        do {
            warnings = try await rescan.run(onlyOutdated: sinceDbChange) { outcome in
                let judged = await policyOptions.session(session, for: outcome, client: client).evaluate(outcome)
                tally.add(judged)
                report.add(judged)
            }
        } catch {
            await display.stop()
            try? await client?.shutdown()
            try? await store.close()
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
        await display.stop()
        try await client?.shutdown()
        try await store.close()
        // Of the images rescanned (`--since-db-change` leaves the others out).
        warnings += tally.warnings(policy: policy, of: "any image rescanned")
        report.finish(elapsed: ContinuousClock.now - started, warnings: warnings + policy.expiredRuleWarnings, counters: fleet.matching.counts)
        if sinceDbChange && report.images == 0 && report.failures.isEmpty {
            printNote("every stored image was already matched against the current advisory data (\(advisoryVersion))")
        }
        let text = format == .json ? try report.json() : report.table()
        FileHandle.standardOutput.write(Data(text.utf8))
        if format == .json && !quiet {
            for line in report.notChecked { printWarning("not checked: \(line)") }
        }
        // An image that failed fails the rescan (1) before the gate's verdict, as for `registry`.
        if report.failed > 0 { throw ExitCode(1) }
        // --exit-code: a finding that survives the policy in any image fails the rescan with its code.
        if report.policyFailures.contains(where: { $0.kind == .fail }) { throw ExitCode(policyOptions.exitCode) }
        if !report.policyFailures.isEmpty { throw ExitCode(1) }
    }
}
