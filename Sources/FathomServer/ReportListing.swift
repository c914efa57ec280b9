import FathomAdvisory
import FathomCore
import FathomReport
import FathomStore
import Logging

extension ReportListing {
    /// What is listed of a stored report that cannot be read: the image, not checked, and why.
    static func unreadable(name: String) -> ReportListing {
        ReportListing(
            findings: [],
            image: ImageRow(
                name: name, manifestDigest: nil, os: nil, bySeverity: [:], findings: 0, fixable: 0, new: 0, resolved: 0, exploited: 0, layers: 0,
                bytes: 0, chain: nil, fullyChecked: false, missing: ["the stored report cannot be read"]),
            prefixes: [], layerFindings: [:], vulnerabilities: [], packages: [])
    }
}

extension ScanReport {
    /// A stored report, decoded; one that cannot be read is an error naming it.
    static func stored(_ document: [UInt8], name: String) throws -> ScanReport {
        do {
            return try decode(document)
        } catch {
            throw FathomError(.invalidInput, "the stored report cannot be read", image: name, cause: error)
        }
    }
}

extension ReportStore {
    /// Stores `report` as the newest of `name`, with its findings listed beside it; in a worker's
    /// job, only while the job's lease is held.
    func storeReport(_ report: ScanReport, name: String, repository: String, tag: String?) async throws {
        try await JobLease.current?.check()
        try await storeReport(
            try report.document(), name: name, repository: repository, tag: tag, manifestDigest: report.artifact.manifestDigest,
            listing: ReportListing(report: report, name: name))
    }

    /// Lists `unlisted` reports (as `unlistedReports` gave them), each if it is still the name's
    /// report. A report that cannot be read is listed as an image with a gap that says so, and logged:
    /// the fleet's views name it instead of waiting for it for ever.
    func listReports(_ unlisted: [(name: String, document: [UInt8])], logger: Logger) async throws {
        for (name, document) in unlisted {
            let listing: ReportListing
            do {
                listing = ReportListing(report: try ScanReport.stored(document, name: name), name: name)
            } catch {
                logger.warning("a stored report cannot be read: listed as not checked", metadata: ["image": "\(name)", "error": "\(FathomError.plain(error))"])
                listing = .unreadable(name: name)
            }
            try await listReport(name: name, document: document, listing: listing)
        }
    }

    /// Lists the findings of every report stored before the listing existed (or by an earlier
    /// fathom). A report rewritten meanwhile is read again; one still unlisted after three
    /// tries is an error naming it, not a loop.
    func listUnlistedFindings(logger: Logger) async throws {
        var tries: [String: Int] = [:]
        while true {
            let unlisted = try await unlistedReports(limit: 200)
            if unlisted.isEmpty { return }
            for (name, _) in unlisted {
                tries[name, default: 0] += 1
                if tries[name, default: 0] > 3 {
                    throw FathomError(.invalidInput, "the findings of the stored report could not be listed", image: name)
                }
            }
            try await listReports(unlisted, logger: logger)
        }
    }
}

/// The findings of reports stored before the listing existed, listed in the background: after
/// an upgrade that is every report (about a millisecond each to read: minutes at 100,000), too
/// long for a request to wait. A few (an earlier worker still writing) are listed by the request.
final class FindingsListing: Sendable {
    let store: any ReportStore
    private let running = Locked<Task<Void, Never>?>(nil)
    /// At most this many unlisted reports are listed by a request itself.
    static let inline = 50

    init(store: any ReportStore) { self.store = store }

    /// Starts listing in the background unless that runs already.
    func start(logger: Logger) {
        running.withLock { running in
            guard running == nil else { return }
            running = Task {
                do {
                    try await self.store.listUnlistedFindings(logger: logger)
                } catch {
                    logger.error("listing the findings of stored reports failed", metadata: ["error": "\(FathomError.plain(error))"])
                }
                self.running.withLock { $0 = nil }
            }
        }
    }

    /// Whether every stored report's findings are listed: a few unlisted ones are listed here;
    /// more start (or wait for) the background listing, and the answer is no.
    func complete(logger: Logger) async throws -> Bool {
        let unlisted = try await store.unlistedReports(limit: Self.inline + 1)
        if unlisted.isEmpty { return true }
        if unlisted.count <= Self.inline && running.withLock({ $0 == nil }) {
            try await store.listReports(unlisted, logger: logger)
            return true
        }
        start(logger: logger)
        return false
    }
}
