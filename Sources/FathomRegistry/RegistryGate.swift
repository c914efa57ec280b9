import FathomCore

/// Per-registry traffic control shared by every request of one client: a cap on requests in
/// flight (a streamed blob holds its permit until the body is done), and a pause that all
/// requests to a registry observe once it answers 429 or 503, so a fleet slows down together
/// instead of each task hammering on its own schedule.
actor RegistryGates {
    private let permits: Int
    private var semaphores: [String: AsyncSemaphore] = [:]
    private var pausedUntil: [String: Duration] = [:]
    /// When every try of a request to the registry ended without an answer (refused, reset,
    /// timed out), until one is answered again.
    private var unreachableAt: [String: Duration] = [:]
    private let clock: RegistryClock

    init(permits: Int, clock: RegistryClock) {
        self.permits = max(1, permits)
        self.clock = clock
    }

    func semaphore(for registry: String) -> AsyncSemaphore {
        if let existing = semaphores[registry] { return existing }
        let made = AsyncSemaphore(permits: permits)
        semaphores[registry] = made
        return made
    }

    /// Holds every request to `registry` back for `delay` (extending, never shortening, a pause).
    func pause(_ registry: String, for delay: Duration) {
        let until = clock.now + delay
        if let current = pausedUntil[registry], current >= until { return }
        pausedUntil[registry] = until
    }

    /// Whether every try of a request to `registry` ended without an answer within `window`.
    func isUnreachable(_ registry: String, within window: Duration) -> Bool {
        unreachableAt[registry].map { clock.now - $0 < window } ?? false
    }

    func markUnreachable(_ registry: String) { unreachableAt[registry] = clock.now }

    func markAnswered(_ registry: String) { unreachableAt[registry] = nil }

    /// Returns once `registry` is not paused.
    func waitIfPaused(_ registry: String) async throws {
        while let until = pausedUntil[registry], until > clock.now {
            try await clock.sleep(until: until)
        }
    }
}

extension RegistryClient {
    /// Runs `body` holding one of the registry's request permits.
    func withRequestPermit<Result>(
        _ registry: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        let semaphore = await gates.semaphore(for: registry)
        return try await semaphore.withPermit(body)
    }
}
