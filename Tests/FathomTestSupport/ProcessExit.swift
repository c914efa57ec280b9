public import Foundation

extension Process {
    /// Waits for the process to end without holding a thread: `waitUntilExit()` blocks one of
    /// the cooperative pool's threads (two on a 2-core machine), and a few tests blocked at once
    /// stall every other test's timing in the process.
    public func exited() async {
        while isRunning {
            do { try await Task.sleep(for: .milliseconds(20)) } catch {
                // Cancelled: there is nothing better to do than wait.
                waitUntilExit()
                return
            }
        }
    }
}
