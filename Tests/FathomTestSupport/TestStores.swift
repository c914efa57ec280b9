public import FathomCore
public import FathomStore
import FathomStores

/// The two stores a test runs on: the embedded SQLite one, and a real PostgreSQL (one database per test).
public enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// A new, empty store of this kind, named after `label`.
    public func open(_ label: String) async throws -> any Store {
        switch self {
        case .sqlite: return try await openStore(try Fixtures.temporaryDirectory(label) + "/fathom.db")
        case .postgres: return try await openStore(try await LocalPostgres.shared.value.database(label))
        }
    }
}

extension ReportStore {
    /// Stores a report whose listing is its findings alone (no layers): for tests of the
    /// findings' listing, with documents that are not reports.
    public func storeReport(
        _ document: [UInt8], name: String, repository: String, tag: String?, manifestDigest: Digest?, findings: [ReportFinding]
    ) async throws {
        try await storeReport(document, name: name, repository: repository, tag: tag, manifestDigest: manifestDigest, listing: .findings(findings, name: name))
    }

    public func listFindings(name: String, document: [UInt8], findings: [ReportFinding]) async throws {
        try await listReport(name: name, document: document, listing: .findings(findings, name: name))
    }
}

extension ReportListing {
    /// A listing of `findings` alone, as a report of no layers would give.
    public static func findings(_ findings: [ReportFinding], name: String) -> ReportListing {
        var bySeverity: [String: Int] = [:]
        for finding in findings { bySeverity[finding.severity, default: 0] += 1 }
        return ReportListing(
            findings: findings,
            image: ImageRow(
                name: name, manifestDigest: nil, os: nil, bySeverity: bySeverity, findings: findings.count,
                fixable: findings.filter { $0.fixedVersion != nil }.count, new: 0, resolved: 0, exploited: 0, layers: 0, bytes: 0, chain: nil,
                fullyChecked: true, missing: []),
            prefixes: [], layerFindings: [:],
            vulnerabilities: Dictionary(grouping: findings, by: \.id).map { id, all in
                FleetVulnerability(id: id, severity: all[0].severity, images: 1, packages: all.map(\.package), kevDateAdded: nil, knownRansomware: false)
            }, packages: findings.map(\.package))
    }
}
