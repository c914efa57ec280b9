public import FathomCore
public import FathomPipeline
public import FathomStore
import Foundation

/// What `fathom rescan` prints: per image, the findings new and resolved since its previous
/// scan, whether its tag had moved (then it was scanned again), and failures.
public struct RescanReport: Sendable, Encodable {
    public struct Image: Sendable, Encodable {
        public var name: String
        public var manifestDigest: Digest?
        /// The tag pointed at a different image, which was scanned.
        public var moved: Bool
        public var findings: Int
        public var new: [StoredFinding]
        public var resolved: [StoredFinding]
        public var unchanged: Int
    }

    public var advisoryVersion: String
    /// Every image with a change, and counts for the rest.
    public var changed: [Image] = []
    public var images = 0
    public var unchanged = 0
    public var moved = 0
    public var failed = 0
    public var failures: [FleetSummary.Failure] = []
    public var warnings: [String] = []
    /// Images `--exit-code` fails.
    public var policyFailures: [FleetSummary.PolicyFailure] = []
    /// How the distinct inventories' findings were found: as stored, updated from a stored
    /// match after an advisory change, or matched whole.
    public var matching = MatchCounters.Counts()
    public var elapsedSeconds = 0.0

    public init(advisoryVersion: String) { self.advisoryVersion = advisoryVersion }

    /// Adds one image's outcome through the engine (findings and changes as the policy shows them).
    public mutating func add(_ outcome: ScanOutcome) {
        if let verdict = outcome.verdict {
            switch verdict.kind {
            case .fail:
                policyFailures.append(
                    FleetSummary.PolicyFailure(name: outcome.name, kind: .fail, reason: "\(verdict.findings) finding\(verdict.findings == 1 ? "" : "s") survive the policy"))
            case .noVerdict:
                policyFailures.append(
                    FleetSummary.PolicyFailure(name: outcome.name, kind: .noVerdict, reason: "no verdict: \(verdict.gaps.joined(separator: "; "))"))
            case .pass, .notAsked: break
            }
        }
        switch outcome {
        case .failed(let name, let error):
            failed += 1
            failures.append(FleetSummary.Failure(name: name, reason: "\(error)"))
        case .skipped(let name, let reason):
            failures.append(FleetSummary.Failure(name: name, reason: reason))
        case .unchanged:
            images += 1
            unchanged += 1
        case .scanned(let result):
            // The tag moved: the new image was read.
            images += 1
            moved += 1
            let report = result.report
            changed.append(
                Image(
                    name: report.artifact.name, manifestDigest: report.artifact.manifestDigest, moved: true, findings: report.vulnerabilities.count,
                    new: report.changes?.new ?? [], resolved: report.changes?.resolved ?? [], unchanged: report.changes?.unchanged ?? 0))
        case .rematched(let image, _):
            images += 1
            guard !image.changes.new.isEmpty || !image.changes.resolved.isEmpty else {
                unchanged += 1
                return
            }
            changed.append(
                Image(
                    name: image.name, manifestDigest: image.image.manifestDigest, moved: false, findings: image.findings.count,
                    new: image.changes.new, resolved: image.changes.resolved, unchanged: image.changes.unchanged))
        }
    }

    public mutating func finish(elapsed: Duration, warnings: [String], matching: MatchCounters.Counts = .init()) {
        self.matching = matching
        changed.sort { $0.name < $1.name }
        failures.sort { $0.name < $1.name }
        self.warnings = warnings.sorted()
        elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func table() -> String {
        var output = "Rescanned \(images) images in \(String(format: "%.2f", elapsedSeconds)) s: "
        output += "\(changed.count) changed, \(unchanged) unchanged, \(moved) moved tags scanned again, \(failed) failed\n"
        let distinct = matching.reused + matching.updated + matching.matched
        if distinct > 0 {
            output += "Distinct inventories: \(distinct) (\(matching.reused) as stored, \(matching.updated) updated, "
            output += "\(matching.matched) matched whole; \(matching.packagesMatched) packages matched)\n"
        }
        for image in changed {
            output += "\n\(image.name)\(image.moved ? " (tag moved: new image scanned)" : ""): "
            output += "\(image.new.count) new, \(image.resolved.count) resolved, \(image.unchanged) unchanged\n"
            output += ScanChanges.table(new: image.new, resolved: image.resolved)
        }
        if !failures.isEmpty {
            output += "\nFailed (\(failures.count))\n"
            for failure in failures { output += "  \(failure.name): \(failure.reason)\n" }
        }
        if !policyFailures.isEmpty {
            output += "\nFailing the policy (\(policyFailures.count))\n"
            for failure in policyFailures.sorted(by: { $0.name < $1.name }).prefix(100) { output += "  \(failure.name): \(failure.reason)\n" }
            if policyFailures.count > 100 { output += "  … and \(policyFailures.count - 100) more\n" }
        }
        for warning in warnings { output += "warning: \(warning)\n" }
        return output
    }
}
