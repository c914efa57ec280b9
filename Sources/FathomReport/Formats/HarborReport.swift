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

    /// The finding's id as Harbor keys it: its CVE when it is one or names exactly one.
    static func cveID(of vulnerability: ScanReport.Vulnerability) -> String {
        if vulnerability.id.hasPrefix("CVE-") { return vulnerability.id }
        let cves = Set(vulnerability.aliases.filter { $0.hasPrefix("CVE-") })
        return cves.count == 1 ? cves.first! : vulnerability.id
    }

    public static func encode(_ report: ScanReport, repository: String, digest: Digest?, tag: String?, mimeType: String?) throws -> [UInt8] {
        var artifact: [String: Any] = ["repository": repository]
        if let digest { artifact["digest"] = digest.description }
        if let tag { artifact["tag"] = tag }
        artifact["mime_type"] = mimeType ?? report.artifact.mediaType?.rawValue ?? MediaType.ociManifest.rawValue
        let vulnerabilities: [[String: Any]] = report.vulnerabilities.map { vulnerability in
            // Harbor keys its CVE views and allowlists by `id`: a distribution's or an OSV
            // advisory that names one CVE is that CVE (`ALPINE-v3.7-musl-CVE-2019-14697`,
            // `PYSEC-2023-221`), its own id kept in the vendor attributes.
            let id = cveID(of: vulnerability)
            var item: [String: Any] = [
                "id": id, "package": vulnerability.package, "version": vulnerability.installedVersion,
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
            // The distribution's own record: the id reported before, or the record a CVE finding is named after.
            if let advisory = id != vulnerability.id ? vulnerability.id : vulnerability.aliases.first(where: { !$0.hasPrefix("CVE-") && ImageMatcher.cveNamed($0) == id }) {
                vendor["advisory"] = advisory
            }
            // Where Harbor's own UI reads the scores (`CVSS.<source>.V3Score`…), as Trivy's
            // adapter writes them: each source's preferred score of each version.
            var bySource: [String: [String: Any]] = [:]
            for score in vulnerability.cvss.sorted(by: CVSSScore.preferred) {
                let prefix = score.version.hasPrefix("2") ? "V2" : score.version.hasPrefix("3") ? "V3" : score.version.hasPrefix("4") ? "V40" : nil
                guard let prefix, bySource[score.source]?[prefix + "Score"] == nil else { continue }
                bySource[score.source, default: [:]][prefix + "Score"] = score.score
                bySource[score.source, default: [:]][prefix + "Vector"] = score.vector
            }
            if !bySource.isEmpty { vendor["CVSS"] = bySource }
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
