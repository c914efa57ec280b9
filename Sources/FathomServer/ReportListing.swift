import FathomAdvisory
import FathomCore
import FathomReport
import FathomStore

extension ReportFinding {
    init(_ vulnerability: ScanReport.Vulnerability) {
        self.init(
            id: vulnerability.id, aliases: vulnerability.aliases, package: vulnerability.package, installedVersion: vulnerability.installedVersion,
            fixedVersion: vulnerability.fixedVersion, severity: vulnerability.severity.rawValue, status: vulnerability.status.rawValue)
    }
}

extension ReportStore {
    /// Stores `report` as the newest of `name`, with its findings listed beside it.
    func storeReport(_ report: ScanReport, name: String, repository: String, tag: String?) async throws {
        try await storeReport(
            Array(try report.json().utf8), name: name, repository: repository, tag: tag, manifestDigest: report.artifact.manifestDigest,
            findings: report.vulnerabilities.map(ReportFinding.init))
    }

    /// Lists the findings of reports stored before the listing existed (or by an earlier
    /// fathom), so that a listing of findings holds every report. Once done, one indexed look.
    func listUnlistedFindings() async throws {
        var tried: Set<String> = []
        while true {
            let unlisted = try await unlistedReports(limit: 200)
            if unlisted.isEmpty { return }
            // A report changed while it was listed is read again; one that stays unlisted is an error, not a loop.
            if unlisted.allSatisfy({ tried.contains($0.name) }) {
                throw FathomError(.invalidInput, "the findings of the stored report could not be listed", image: unlisted[0].name)
            }
            for (name, document) in unlisted {
                tried.insert(name)
                let report: ScanReport
                do {
                    report = try ScanReport.decode(document)
                } catch {
                    throw FathomError(.invalidInput, "the stored report cannot be read", image: name, cause: error)
                }
                try await listFindings(name: name, document: document, findings: report.vulnerabilities.map(ReportFinding.init))
            }
        }
    }
}
