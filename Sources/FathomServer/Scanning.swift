import FathomAdvisory
import FathomCore
import FathomLayer
import FathomOCI
public import FathomPipeline
public import FathomRegistry
import FathomReport
public import FathomStore
import Foundation
public import Logging
import Metrics

/// Scans what jobs name, through one fleet pipeline shared by a process's workers (one layer
/// cache and one layer budget), rebuilt when the advisory data changes; stores each scan's
/// report document for the API.
public actor ScanRunner {
    let store: any Store
    let client: RegistryClient
    let layerConcurrency: Int
    let logger: Logger
    private var fleet: FleetScanner?
    private let metrics = ServiceMetrics()

    public init(store: any Store, client: RegistryClient, layerConcurrency: Int, logger: Logger) {
        self.store = store
        self.client = client
        self.layerConcurrency = layerConcurrency
        self.logger = logger
    }

    /// The pipeline for the store's current advisory data.
    func currentFleet() async throws -> FleetScanner {
        let version = try await store.advisoryVersion()
        if let fleet, fleet.advisoryVersion == version { return fleet }
        let scanner = ImageScanner(layerConcurrency: layerConcurrency, cache: LayerCache(store: store))
        let fresh = try await FleetScanner(scanner: scanner, store: store, index: try await store.advisories(), logger: logger)
        fleet = fresh
        return fresh
    }

    /// Scans `job`'s image and stores its scan and report; throws what failed (named).
    nonisolated func run(_ job: Job) async throws {
        let started = ContinuousClock.now
        guard case .registry(let reference) = try SourceReference(parsing: job.image) else {
            throw FathomError(.invalidInput, "a job names a registry image (host/repository:tag)", image: job.image)
        }
        let fleet = try await currentFleet()
        let source = RegistryImageSource(reference: reference, client: client, documents: store)
        let outcome = await fleet.scan(FleetJob(name: job.image, source: source, repository: reference.repository, tag: reference.tag))
        try await fleet.flush()
        switch outcome {
        case .scanned(let report):
            guard let result = report.result else { throw FathomError(.invalidInput, "the image was not read", image: job.image) }
            let document = ScanReport(
                result, findings: report.findings, advisoriesLoaded: fleet.index.recordCount > 0, changes: report.changes,
                coverage: report.coverage)
            try await store.storeReport(
                Array(try document.json().utf8), name: job.image, repository: reference.repository, tag: reference.tag,
                manifestDigest: report.image.manifestDigest)
            metrics.scanned(result: result, elapsed: ContinuousClock.now - started)
        case .failed(_, let error):
            metrics.failed()
            throw error
        case .skipped(_, let reason):
            throw FathomError(.invalidInput, reason, image: job.image)
        case .unchanged:
            break
        }
    }
}

/// The service's own counters, as swift-metrics names them (exported by `/metrics`).
struct ServiceMetrics: Sendable {
    let completed = Counter(label: "fathom_scans_completed_total")
    let failures = Counter(label: "fathom_scans_failed_total")
    let layersFetched = Counter(label: "fathom_layers_fetched_total")
    let layersReused = Counter(label: "fathom_layers_reused_total")
    let bytesFetched = Counter(label: "fathom_bytes_fetched_total")
    let latency = Metrics.Timer(label: "fathom_scan_duration_seconds")

    func scanned(result: ImageScanResult, elapsed: Duration) {
        completed.increment()
        layersFetched.increment(by: result.layersFetched)
        layersReused.increment(by: result.layers.count - result.layersFetched)
        bytesFetched.increment(by: Int(result.bytesFetched))
        latency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    func failed() { failures.increment() }
}
