public import FathomCore
public import FathomInventory
public import FathomSource
import FathomArchive
public import FathomOCI
public import FathomStore
public import Logging

/// One layer's facts in an image, in order.
public struct ScannedLayer: Sendable {
    public var layer: ImageLayer
    public var facts: LayerFacts
    /// The `created_by` of the history entry that made this layer, when the config records it.
    public var createdBy: String?
}

/// The result of scanning one image.
public struct ImageScanResult: Sendable {
    public var image: ResolvedImage
    /// Each layer's facts; those of an image read from its stored reading hold its read summary
    /// and warnings only (no file).
    public var layers: [ScannedLayer]
    public var os: OSRelease?
    /// The merged file system (empty for an image read from its stored reading).
    public var filesystem: MergedFilesystem
    /// What merging the layers warned of.
    public var filesystemWarnings: [String]
    /// Installed packages, each with the layer that introduced it.
    public var packages: [InventoryEntry]
    /// Layers this scan read from their blobs; the others were known already.
    public var layersFetched: Int
    /// Compressed bytes this scan read.
    public var bytesFetched: Int64
    /// Its OS, packages and layer summaries were read as stored for its manifest: no layer merged.
    public var known = false

    /// Merges layer facts (in order) into the image's file system, OS and packages.
    public init(image: ResolvedImage, facts: [LayerFacts], layersFetched: Int = 0, bytesFetched: Int64 = 0) {
        let filesystem = MergedFilesystem(layers: facts)
        self.init(
            image: image, facts: facts, os: OSRelease.detect(in: filesystem), packages: ImageInventory.packages(in: filesystem),
            filesystemWarnings: filesystem.warnings)
        self.filesystem = filesystem
        self.layersFetched = layersFetched
        self.bytesFetched = bytesFetched
    }

    /// An image whose manifest was read before: its stored reading and inventory's packages.
    public init(image: ResolvedImage, reading: ImageReading, packages: [InventoryEntry]) {
        let facts = reading.layers.map {
            LayerFacts(summary: $0.summary, files: [:], whiteouts: [], opaqueDirectories: [], warnings: $0.warnings)
        }
        self.init(image: image, facts: facts, os: reading.os, packages: packages, filesystemWarnings: reading.filesystemWarnings)
        known = true
    }

    private init(image: ResolvedImage, facts: [LayerFacts], os: OSRelease?, packages: [InventoryEntry], filesystemWarnings: [String]) {
        let history = (image.config.history ?? []).filter { $0.emptyLayer != true }
        self.image = image
        layers = image.layers.enumerated().map { index, layer in
            ScannedLayer(layer: layer, facts: facts[index], createdBy: history.count == image.layers.count ? history[index].createdBy : nil)
        }
        filesystem = MergedFilesystem(layers: [])
        self.filesystemWarnings = filesystemWarnings
        self.os = os
        self.packages = packages
        layersFetched = 0
        bytesFetched = 0
    }

    /// What a later scan of the same manifest needs besides the inventory (`ImageReading`).
    public var reading: ImageReading {
        ImageReading(
            os: os, layers: layers.map { ImageReading.Layer(summary: $0.facts.summary, warnings: $0.facts.warnings) },
            filesystemWarnings: filesystemWarnings)
    }
}

/// Scans one image: resolves it, gets each layer's facts (from the cache, or by reading the
/// layer once, a bounded number at a time), and merges them.
public struct ImageScanner: Sendable {
    public var platform: Platform
    /// Layers read at once across every image sharing this scanner.
    public let layerBudget: AsyncSemaphore
    public let layerConcurrency: Int
    public var claims: PathClaims
    /// Where layer facts are looked up and kept (single-flight per digest).
    public let cache: LayerCache
    /// What a layer and an image may expand to; past a limit the image fails, named.
    public var limits: ReadLimits
    public var logger: Logger

    public init(
        platform: Platform = .linuxAMD64, layerConcurrency: Int = defaultConcurrency(),
        claims: PathClaims = .standard, cache: LayerCache = LayerCache(store: nil), limits: ReadLimits = .default,
        logger: Logger = Logger(label: "fathom.scan")
    ) {
        self.platform = platform
        self.limits = limits
        self.layerConcurrency = max(1, layerConcurrency)
        self.layerBudget = AsyncSemaphore(permits: max(1, layerConcurrency))
        self.claims = claims
        self.cache = cache
        self.logger = logger
    }

    /// Two layer reads per core: a read alternates between decoding (CPU) and waiting for the
    /// next chunk from the registry, so one per core leaves cores idle while a registry is slow
    /// to send (measured on the fleet benchmark: 10 % faster cold scans with two per core, no
    /// gain from more).
    public static func defaultConcurrency() -> Int {
        max(2, 2 * ProcessorCount.active)
    }

    public func scan(_ source: any ImageSource) async throws -> ImageScanResult {
        try await scan(source, resolved: try await source.resolve(platform: platform))
    }

    /// Scans an image already resolved (a fleet filters on the config before reading layers).
    public func scan(_ source: any ImageSource, resolved image: ResolvedImage) async throws -> ImageScanResult {
        var logger = self.logger
        logger[metadataKey: LogKey.image] = "\(image.name)"
        if let digest = image.manifestDigest { logger[metadataKey: LogKey.imageDigest] = "\(digest)" }
        logger.debug("resolved image", metadata: ["layers": "\(image.layers.count)"])
        guard image.layers.count <= limits.imageLayers else {
            throw FathomError(
                .limitExceeded, "the image has \(image.layers.count) layers, more than \(limits.imageLayers) (--max-image-layers)",
                image: image.name)
        }

        let (facts, fetched) = try await layerFacts(image, from: source)
        return ImageScanResult(
            image: image, facts: facts, layersFetched: fetched.count, bytesFetched: fetched.reduce(0) { $0 + $1.summary.compressedSize })
    }

    /// Gets every layer's facts with a sliding window of `layerConcurrency` tasks; returns them
    /// in order, and the facts this call read from blobs.
    private func layerFacts(_ image: ResolvedImage, from source: any ImageSource) async throws -> ([LayerFacts], [LayerFacts]) {
        let claims = self.claims
        let cache = self.cache
        let budget = self.layerBudget
        let limits = self.limits
        return try await withThrowingTaskGroup(of: (Int, LayerFacts, LayerCache.Outcome).self) { group in
            var results = [LayerFacts?](repeating: nil, count: image.layers.count)
            var fetched: [LayerFacts] = []
            var next = 0
            func startNext() {
                guard next < image.layers.count else { return }
                let index = next
                let layer = image.layers[index]
                next += 1
                group.addTask {
                    let read: @Sendable () async throws -> LayerFacts = {
                        try await budget.withPermit {
                            try await Self.readLayer(layer, from: source, imageName: image.name, claims: claims, limits: limits)
                        }
                    }
                    guard let key = layer.cacheKey else { return (index, try await read(), .fetched) }
                    do {
                        let (facts, outcome) = try await cache.facts(for: key, read: read)
                        return (index, facts, outcome)
                    } catch {
                        // A layer read for another image fails this one too, named as this one.
                        var failure = FathomError.wrapping(error, layer: key.description)
                        failure.image = image.name
                        throw failure
                    }
                }
            }
            for _ in 0..<min(layerConcurrency, image.layers.count) { startNext() }
            var expanded: Int64 = 0
            while let (index, facts, outcome) = try await group.next() {
                expanded += facts.summary.uncompressedSize
                if expanded > limits.imageBytes {
                    throw FathomError(
                        .limitExceeded,
                        "the image's layers expand past \(ReadLimits.describe(limits.imageBytes)) together (--max-image-bytes)",
                        image: image.name)
                }
                results[index] = facts
                if case .fetched = outcome { fetched.append(facts) }
                startNext()
            }
            return (results.map { $0! }, fetched)
        }
    }

    static func readLayer(
        _ layer: ImageLayer, from source: any ImageSource, imageName: String, claims: PathClaims, limits: ReadLimits
    ) async throws -> LayerFacts {
        let layerName = layer.digest?.description ?? layer.diffID?.description
        do {
            return try await source.withLayer(layer) { stream in
                var collector = LayerFactsCollector(claims: claims, fileBytes: limits.fileBytes)
                let summary = try await LayerReader.read(
                    stream, expecting: layer.expectation, limits: limits, handler: &collector)
                return collector.facts(summary)
            }
        } catch {
            throw FathomError.wrapping(error, image: imageName, layer: layerName)
        }
    }
}
