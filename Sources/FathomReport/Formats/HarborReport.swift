import FathomAdvisory
public import FathomCore
import FathomInventory
import FathomOCI
import Foundation

/// Harbor's vulnerability report (`HarborVulnerabilityReport` of the adapter spec).
public enum HarborReport {
    static func severity(_ severity: Severity) -> String {
        switch severity {
        case .critical: "Critical"
        case .high: "High"
        case .medium: "Medium"
        case .low: "Low"
        case .unknown: "Unknown"
        }
    }

    public static func encode(_ report: ScanReport, repository: String, digest: Digest?, tag: String?, mimeType: String?) throws -> [UInt8] {
        var artifact: [String: Any] = ["repository": repository]
        if let digest { artifact["digest"] = digest.description }
        if let tag { artifact["tag"] = tag }
        artifact["mime_type"] = mimeType ?? report.artifact.mediaType?.rawValue ?? MediaType.ociManifest.rawValue
        let vulnerabilities: [[String: Any]] = report.vulnerabilities.map { vulnerability in
            var item: [String: Any] = [
                "id": vulnerability.id, "package": vulnerability.package, "version": vulnerability.installedVersion,
                "severity": severity(vulnerability.severity),
                "links": vulnerability.references.filter { $0.hasPrefix("http://") || $0.hasPrefix("https://") },
            ]
            if let fixed = vulnerability.fixedVersion { item["fix_version"] = fixed }
            if let title = vulnerability.title { item["description"] = title }
            var cvss: [String: Any] = [:]
            if let v3 = vulnerability.cvss.filter({ $0.version.hasPrefix("3") }).min(by: CVSSScore.preferred) {
                cvss["score_v3"] = v3.score
                cvss["vector_v3"] = v3.vector
            }
            if let v2 = vulnerability.cvss.filter({ $0.version.hasPrefix("2") }).min(by: CVSSScore.preferred) {
                cvss["score_v2"] = v2.score
                cvss["vector_v2"] = v2.vector
            }
            if !cvss.isEmpty { item["preferred_cvss"] = cvss }
            var vendor: [String: Any] = ["ecosystem": vulnerability.ecosystem, "source": vulnerability.source, "path": vulnerability.path]
            if !vulnerability.aliases.isEmpty { vendor["aliases"] = vulnerability.aliases }
            if let source = vulnerability.severitySource { vendor["severitySource"] = source }
            vendor["status"] = vulnerability.status.rawValue
            if let kev = vulnerability.kev {
                vendor["kev"] = ["dateAdded": kev.dateAdded, "dueDate": kev.dueDate ?? "", "knownRansomware": kev.knownRansomware]
            }
            if let epss = vulnerability.epss { vendor["epss"] = ["score": epss.score, "percentile": epss.percentile, "date": epss.date ?? ""] }
            if let words = vulnerability.vendorStatus { vendor["vendorStatus"] = words }
            item["vendor_attributes"] = vendor
            return item
        }
        let worst = report.vulnerabilities.map(\.severity).max() ?? .unknown
        let document: [String: Any] = [
            "generated_at": ISO8601DateFormatter().string(from: Date()),
            "artifact": artifact,
            "scanner": ["name": "fathom", "vendor": "fathom", "version": FathomVersionInfo.version],
            // The spec's scale has no "None": an image without findings is rated by its lowest step.
            "severity": severity(worst),
            "vulnerabilities": vulnerabilities,
        ]
        return Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}

extension ScanReport {
    /// Harbor's report for this scan (`fathom scan --format harbor`): the repository and tag
    /// from the image's name, the digest it was read at.
    public func harbor() throws -> String {
        let (name, tag) = nameAndTag
        var repository = name
        // A registry name's repository is the path after the host.
        if let slash = repository.firstIndex(of: "/"), repository[..<slash].contains(".") || repository[..<slash].contains(":") {
            repository = String(repository[repository.index(after: slash)...])
        }
        let bytes = try HarborReport.encode(self, repository: repository, digest: artifact.manifestDigest, tag: tag, mimeType: nil)
        return String(decoding: bytes, as: UTF8.self) + "\n"
    }
}
