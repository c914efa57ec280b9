import FathomStore

/// Stores the reports of a process's concurrent scan jobs together (group commit): while one
/// batch is being written, the reports that finish meanwhile gather and go in the next, one
/// transaction each, so the fleet's running counts move once per batch. A report is stored when
/// its call returns, as before; nothing waits on a timer, and a lone report goes at once.
actor ReportWriter {
    private typealias Waiter = (write: ReportWrite, done: CheckedContinuation<Void, any Error>)
    private let store: any ReportStore
    /// At most this many reports in one transaction.
    private let limit: Int
    private var waiting: [Waiter] = []
    private var draining = false

    init(store: any ReportStore, limit: Int = 32) {
        self.store = store
        self.limit = max(1, limit)
    }

    func store(_ write: ReportWrite) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            waiting.append((write, done))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(limit))
            waiting.removeFirst(batch.count)
            do {
                try await store.storeReports(batch.map(\.write))
                for waiter in batch { waiter.done.resume() }
            } catch where batch.count > 1 {
                // A report the store refuses fails its own job, not its batch's: each alone.
                for waiter in batch {
                    do {
                        try await store.storeReports([waiter.write])
                        waiter.done.resume()
                    } catch {
                        waiter.done.resume(throwing: error)
                    }
                }
            } catch {
                batch[0].done.resume(throwing: error)
            }
        }
        draining = false
    }
}
