public import FathomStore
import FathomAdvisory
import FathomCore

extension ScanReport {
    /// What its packages had no advisory data for, once per gap, as the fleet counts images.
    public var fleetGaps: [String] {
        var gaps = coverage?.gapNames ?? []
        if !summary.advisoriesLoaded { gaps.append("no advisory data loaded") }
        if coverage?.osReleaseWithoutPackages == nil, let namespace = os?.namespace, missingOSPackages != nil {
            gaps.append(Coverage.noPackageDatabase(namespace))
        }
        return gaps
    }

    /// Its release's end of support as the fleet counts it (`FleetLifecycle`), when fathom knows
    /// it: by release (`Ubuntu:18.04`), which point releases' names (`Ubuntu 18.04.5 LTS`,
    /// `18.04.6 LTS`) would split.
    var lifecycleEntry: String? {
        guard let os, let date = os.endOfSupport else { return nil }
        let release = OSLifecycle.release(id: os.id, prettyName: os.prettyName, namespace: os.namespace) ?? os.prettyName ?? os.id
        return FleetLifecycle.entry(release: release, date: date)
    }


    /// Whether advisory data covered every package: an image with fewer findings proves
    /// something only then.
    var fullyChecked: Bool {
        summary.advisoriesLoaded && coverage?.isIncomplete == false && missingOSPackages == nil
    }

    /// Each finding's key (`id package version severity`) with the index of the layer that
    /// brought it (the bottom one when the report names a layer the image lacks).
    var layeredFindings: [(key: String, layer: Int)] {
        let digests = layers.map(\.digest)
        return vulnerabilities.map {
            (FleetSummary.key($0.id, $0.package, $0.installedVersion, $0.severity), digests.firstIndex(of: $0.layer) ?? 0)
        }
    }
}

extension ReportListing {
    /// What the fleet's views keep of `report`, stored as `name`.
    public init(report: ScanReport, name: String) {
        var prefixes: [LayerPrefix] = []
        var parent: Digest?
        for (index, layer) in report.layers.enumerated() {
            let key = FleetLineage.prefixKey(parent: parent, layer: layer.digest)
            prefixes.append(LayerPrefix(key: key.description, parent: parent?.description, layer: layer.digest.description, depth: index + 1, size: layer.size))
            parent = key
        }
        var layerFindings: [String: Set<String>] = [:]
        for layer in report.layers { layerFindings[layer.digest.description] = [] }
        for (key, layer) in report.layeredFindings where layer < report.layers.count {
            layerFindings[report.layers[layer].digest.description, default: []].insert(key)
        }
        var layerPackages: [String: Set<String>] = [:]
        let speaksForLayers = !report.policyLeftFindingsOut
        for package in report.packages where speaksForLayers && layerFindings[package.layer.description] != nil {
            layerPackages[package.layer.description, default: []].insert(package.name)
        }
        var bySeverity: [String: Int] = [:]
        var byID: [String: FleetVulnerability] = [:]
        var order: [String] = []
        for vulnerability in report.vulnerabilities {
            bySeverity[vulnerability.severity.rawValue, default: 0] += 1
            if var entry = byID[vulnerability.id] {
                entry = FleetVulnerability(
                    id: entry.id, severity: entry.severity, images: 1, packages: entry.packages + [vulnerability.package],
                    kevDateAdded: entry.kevDateAdded ?? vulnerability.kev?.dateAdded, knownRansomware: entry.knownRansomware || (vulnerability.kev?.knownRansomware ?? false))
                byID[vulnerability.id] = entry
            } else {
                order.append(vulnerability.id)
                byID[vulnerability.id] = FleetVulnerability(
                    id: vulnerability.id, severity: vulnerability.severity.rawValue, images: 1, packages: [vulnerability.package],
                    kevDateAdded: vulnerability.kev?.dateAdded, knownRansomware: vulnerability.kev?.knownRansomware ?? false)
            }
        }
        self.init(
            findings: report.vulnerabilities.map(ReportFinding.init),
            image: ImageRow(
                name: name, manifestDigest: report.artifact.manifestDigest?.description, os: report.os?.prettyName ?? report.os?.id,
                bySeverity: bySeverity, findings: report.vulnerabilities.count, fixable: report.vulnerabilities.filter { $0.fixedVersion != nil }.count,
                new: report.changes?.new.count ?? 0, resolved: report.changes?.resolved.count ?? 0,
                exploited: report.vulnerabilities.filter { $0.kev != nil }.count, layers: report.layers.count,
                bytes: report.layers.reduce(0) { $0 + $1.size }, chain: prefixes.last?.key, fullyChecked: report.fullyChecked,
                missing: report.fleetGaps + (report.lifecycleEntry.map { [$0] } ?? [])
                    + (report.policyLeftFindingsOut ? [FleetLifecycle.policyLeftFindingsOut] : [])),
            prefixes: prefixes, layerFindings: layerFindings.mapValues { $0.sorted() }, vulnerabilities: order.compactMap { byID[$0] },
            packages: report.packages.map(\.name), layerPackages: layerPackages.mapValues { $0.sorted() },
            lowestFindingDepth: report.layeredFindings.map(\.layer).filter { $0 < report.layers.count }.min().map { $0 + 1 })
        self.speaksForLayers = speaksForLayers
    }
}

extension ReportFinding {
    public init(_ vulnerability: ScanReport.Vulnerability) {
        self.init(
            id: vulnerability.id, aliases: vulnerability.aliases, package: vulnerability.package, installedVersion: vulnerability.installedVersion,
            fixedVersion: vulnerability.fixedVersion, severity: vulnerability.severity.rawValue, status: vulnerability.status.rawValue)
    }
}
