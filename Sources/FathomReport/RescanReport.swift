public import FathomCore
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
        /// Found before, not checked now (not resolved); nil when none.
        public var notChecked: [StoredFinding]?
        /// Unchanged but for their fixed version; nil when none.
        public var fixChanged: [StoredFinding]?
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
    /// Names whose tags the registry no longer has: taken out of the store, not rescanned.
    public var removed: [String] = []
    public var warnings: [String] = []
    /// What the rescanned images' packages had no advisory data for: how many images (as the
    /// fleet summary's `missingData`).
    public var missingData: [String: Int] = [:]
    /// Images `--exit-code` fails.
    public var policyFailures: [FleetSummary.PolicyFailure] = []
    /// How the distinct inventories' findings were found: as stored, updated from a stored
    /// match after an advisory change, or matched whole.
    public var matching = Matching()
    public var elapsedSeconds = 0.0

    public init(advisoryVersion: String) { self.advisoryVersion = advisoryVersion }

    /// Adds an image that was re-matched or scanned again: `moved` when its tag moved and the
    /// new image was read; only images with a change are listed.
    public mutating func add(
        name: String, manifestDigest: Digest?, moved wasMoved: Bool, findings: Int, changes: ScanChanges?, verdict: ScanVerdict?
    ) {
        if let verdict { judge(name, verdict) }
        images += 1
        if wasMoved { moved += 1 }
        let (new, resolved) = (changes?.new ?? [], changes?.resolved ?? [])
        guard wasMoved || !new.isEmpty || !resolved.isEmpty || changes?.notChecked != nil || changes?.fixChanged != nil else {
            unchanged += 1
            return
        }
        changed.append(
            Image(
                name: name, manifestDigest: manifestDigest, moved: wasMoved, findings: findings, new: new, resolved: resolved, notChecked: changes?.notChecked, fixChanged: changes?.fixChanged,
                unchanged: changes?.unchanged ?? 0))
    }

    /// Adds an image re-matched with the findings it had.
    public mutating func addUnchanged(name: String, verdict: ScanVerdict?) {
        if let verdict { judge(name, verdict) }
        images += 1
        unchanged += 1
    }

    /// Counts an image by what its packages had no advisory data for.
    public mutating func notChecked(_ gaps: [String]) {
        for gap in gaps { missingData[gap, default: 0] += 1 }
    }

    /// What was not checked, one line per gap, the most images first.
    public var notChecked: [String] { FleetSummary.notChecked(missingData) }

    /// Adds an image left out or failed.
    public mutating func add(failure name: String, reason: String, failed isFailure: Bool) {
        if isFailure { failed += 1 }
        failures.append(FleetSummary.Failure(name: name, reason: reason))
    }

    /// Records what `--exit-code` made of an image.
    public mutating func judge(_ name: String, _ verdict: ScanVerdict) {
        switch verdict.kind {
        case .fail:
            policyFailures.append(
                FleetSummary.PolicyFailure(name: name, kind: .fail, reason: "\(verdict.findings) finding\(verdict.findings == 1 ? "" : "s") survive the policy"))
        case .noVerdict:
            policyFailures.append(FleetSummary.PolicyFailure(name: name, kind: .noVerdict, reason: "no verdict: \(verdict.gaps.joined(separator: "; "))"))
        case .pass, .notAsked: break
        }
    }

    /// How a run found each distinct inventory's findings (the pipeline's counters).
    public struct Matching: Sendable, Hashable, Encodable {
        public var reused = 0
        public var updated = 0
        public var matched = 0
        public var packagesMatched = 0

        public init(reused: Int = 0, updated: Int = 0, matched: Int = 0, packagesMatched: Int = 0) {
            (self.reused, self.updated, self.matched, self.packagesMatched) = (reused, updated, matched, packagesMatched)
        }
    }

    public mutating func finish(elapsed: Duration, warnings: [String], matching: Matching = .init()) {
        self.matching = matching
        changed.sort { $0.name < $1.name }
        failures.sort { $0.name < $1.name }
        removed.sort()
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
            // A moved tag names the image it now points at.
            let moved = image.manifestDigest.map { " (tag moved to \($0.description.prefix(19))…: new image scanned)" } ?? " (tag moved: new image scanned)"
            output += "\n\(image.name)\(image.moved ? moved : ""): "
            output += "\(image.new.count) new, \(image.resolved.count) resolved, \(image.unchanged) unchanged"
            output += image.fixChanged.map { " (\($0.count) of them with another fixed version)" } ?? ""
            output += image.notChecked.map { ", \($0.count) not checked this time (not resolved)" } ?? ""
            output += "\n" + ScanChanges.table(new: image.new, resolved: image.resolved, notChecked: image.notChecked ?? [], fixChanged: image.fixChanged ?? [])
        }
        output += FleetSummary.notCheckedSection(missingData)
        if !removed.isEmpty {
            output += "\nDeleted from the registry, taken out of the store (\(removed.count))\n"
            for name in removed { output += "  \(name)\n" }
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
