#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A server process the tests start (docker-registry, nginx), watched by a shell that stops it
/// when the test process goes, however that ends; ready once its port accepts connections.
public final class BackgroundServer: @unchecked Sendable {
    // @unchecked: the process handle is only touched from init and stop().
    private let process: Process

    /// Starts `command` (a shell command line, which may use `$1` for `argument`) with its
    /// output in `log` (discarded when nil) and waits for 127.0.0.1:`port`.
    public init(_ command: String, argument: String, port: Int, log: String? = nil) async throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let parent = getpid()
        process.arguments = [
            "sh", "-c",
            "PATH=$PATH:/usr/sbin; \(command) & child=$!; trap 'kill $child 2>/dev/null' EXIT INT TERM; "
                + "while kill -0 \(parent) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.3; done",
            "sh", argument,
        ]
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        try await waitForPort(port, timeout: 20)
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// `stop()` without holding a thread of the cooperative pool while the server exits.
    public func terminate() async {
        if process.isRunning {
            process.terminate()
            await process.exited()
        }
    }
}
