import FathomCore
import Foundation

/// Counters a fleet run updates and a progress display reads.
public final class FleetProgress: Sendable {
    public struct Snapshot: Sendable {
        public var queued = 0
        public var scanned = 0
        /// Images matched against the advisories (scanned, or waiting to be recorded).
        public var matched = 0
        public var skipped = 0
        public var failed = 0
        public var layersFetched = 0
        public var layersReused = 0
        public var bytesFetched: Int64 = 0
        public var findings = 0
        /// Images the listing is known to hold, when it is known.
        public var total: Int?
        public var elapsed: Duration = .zero

        public var done: Int { scanned + skipped + failed }
    }

    public enum Ending { case scanned, skipped, failed }

    private let state = Locked(Snapshot())
    private let started = ContinuousClock.now

    public init() {}

    public func add(queued: Int) { state.withLock { $0.queued += queued } }
    public func setTotal(_ total: Int?) { state.withLock { $0.total = total } }

    public func add(layersFetched: Int, reused: Int, bytes: Int64) {
        state.withLock {
            $0.layersFetched += layersFetched
            $0.layersReused += reused
            $0.bytesFetched += bytes
        }
    }

    public func matched() { state.withLock { $0.matched += 1 } }

    public func finish(_ ending: Ending, findings: Int = 0) {
        state.withLock {
            switch ending {
            case .scanned: $0.scanned += 1
            case .skipped: $0.skipped += 1
            case .failed: $0.failed += 1
            }
            $0.findings += findings
        }
    }

    public var snapshot: Snapshot {
        var snapshot = state.withLock { $0 }
        snapshot.elapsed = ContinuousClock.now - started
        return snapshot
    }
}

extension FleetProgress.Snapshot {
    /// `412/1000 images · layers 37 fetched, 1203 reused · 45.1 MB/s · 318 findings · ETA 12s`
    public var line: String {
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let rate = Double(bytesFetched) / seconds / 1_000_000
        var text = "\(done)/\(total.map(String.init) ?? "\(queued)+") images"
        if failed > 0 { text += " (\(failed) failed)" }
        text += " · layers \(layersFetched) fetched, \(layersReused) reused · \(String(format: "%.1f", rate)) MB/s · \(findings) findings"
        if let total, done > 0, done < total {
            let eta = seconds / Double(done) * Double(total - done)
            text += " · ETA \(Int(eta.rounded()))s"
        }
        return text
    }
}
