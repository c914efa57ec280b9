import FathomCore
public import FathomInventory
public import FathomLayer
public import FathomOCI
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
    public var layers: [ScannedLayer]
    public var os: OSRelease?
    public var filesystem: MergedFilesystem
    /// Installed packages, each with the layer that introduced it.
    public var packages: [InventoryEntry]
}

/// Scans one image: resolves it, reads each layer once (a bounded number at a time), and
/// merges the layers' facts.
public struct ImageScanner: Sendable {
    public var platform: Platform
    /// Layers read at once; layers are CPU-bound once fetched, so the default is the core count.
    public var layerConcurrency: Int
    public var claims: PathClaims
    public var logger: Logger

    public init(
        platform: Platform = .linuxAMD64, layerConcurrency: Int = defaultConcurrency(),
        claims: PathClaims = .standard, logger: Logger = Logger(label: "fathom.scan")
    ) {
        self.platform = platform
        self.layerConcurrency = max(1, layerConcurrency)
        self.claims = claims
        self.logger = logger
    }

    public static func defaultConcurrency() -> Int {
        max(1, ProcessorCount.active)
    }

    public func scan(_ source: any ImageSource) async throws -> ImageScanResult {
        let image = try await source.resolve(platform: platform)
        var logger = self.logger
        logger[metadataKey: LogKey.image] = "\(image.name)"
        if let digest = image.manifestDigest { logger[metadataKey: LogKey.imageDigest] = "\(digest)" }
        logger.debug("resolved image", metadata: ["layers": "\(image.layers.count)"])

        let facts = try await readLayers(image, from: source)
        let history = (image.config.history ?? []).filter { $0.emptyLayer != true }
        let layers = image.layers.enumerated().map { index, layer in
            ScannedLayer(
                layer: layer, facts: facts[index],
                createdBy: history.count == image.layers.count ? history[index].createdBy : nil)
        }
        let filesystem = MergedFilesystem(layers: facts)
        return ImageScanResult(
            image: image, layers: layers, os: OSRelease.detect(in: filesystem), filesystem: filesystem,
            packages: ImageInventory.packages(in: filesystem))
    }

    /// Reads the layers with a sliding window of `layerConcurrency` tasks.
    private func readLayers(_ image: ResolvedImage, from source: any ImageSource) async throws -> [LayerFacts] {
        let claims = self.claims
        return try await withThrowingTaskGroup(of: (Int, LayerFacts).self) { group in
            var results = [LayerFacts?](repeating: nil, count: image.layers.count)
            var next = 0
            func startNext() {
                guard next < image.layers.count else { return }
                let index = next
                let layer = image.layers[index]
                next += 1
                group.addTask {
                    (index, try await Self.readLayer(layer, from: source, imageName: image.name, claims: claims))
                }
            }
            for _ in 0..<min(layerConcurrency, image.layers.count) { startNext() }
            while let (index, facts) = try await group.next() {
                results[index] = facts
                startNext()
            }
            return results.map { $0! }
        }
    }

    static func readLayer(
        _ layer: ImageLayer, from source: any ImageSource, imageName: String, claims: PathClaims
    ) async throws -> LayerFacts {
        let layerName = layer.digest?.description ?? layer.diffID?.description
        do {
            return try await source.withLayer(layer) { stream in
                var collector = LayerFactsCollector(claims: claims)
                let summary = try await LayerReader.read(stream, expecting: layer.expectation, handler: &collector)
                return collector.facts(summary)
            }
        } catch {
            throw FathomError.wrapping(error, image: imageName, layer: layerName)
        }
    }
}
