import FathomCore

/// The advisory version as last read, for a process that listens on `fathom_advisories`: every
/// import announces itself there as it commits, and the announcement drops what is kept. A
/// worker asked PostgreSQL for the version at every job (one statement of about fifteen per
/// image); now it asks after an import, after its listening connection was lost, and at least
/// every `maxAge` (for a change no announcement covers: an earlier fathom's import, a hand's SQL).
final class AdvisoryVersionCache: Sendable {
    private struct State {
        var listening = false
        /// Moves at every announcement: a read that began before one is not kept.
        var epoch = 0
        var kept: (version: String, at: ContinuousClock.Instant)?
    }
    private let state = Locked(State())
    static let maxAge: Duration = .seconds(30)

    /// The version kept, if it may still be used.
    func current(now: ContinuousClock.Instant = .now) -> String? {
        state.withLock { state in
            guard state.listening, let kept = state.kept, now - kept.at < Self.maxAge else { return nil }
            return kept.version
        }
    }

    /// Where announcements stand, taken before reading the version.
    func epoch() -> Int { state.withLock { $0.epoch } }

    /// Keeps `version`, read after `epoch()` returned `epoch`, unless an announcement came since
    /// or no one listens. (`now`: when the read began.)
    func keep(_ version: String, readAfter epoch: Int, now: ContinuousClock.Instant) {
        state.withLock { state in
            guard state.listening, state.epoch == epoch else { return }
            state.kept = (version, now)
        }
    }

    /// An import committed (or may have, unheard): the next read asks PostgreSQL.
    func invalidate() {
        state.withLock { state in
            state.epoch += 1
            state.kept = nil
        }
    }

    /// The listening connection began or ended; either way, nothing kept before is trusted.
    func listening(_ on: Bool) {
        state.withLock { state in
            state.listening = on
            state.epoch += 1
            state.kept = nil
        }
    }
}
