public import Foundation
import Subprocess

/// Runs real tools (tar, skopeo, docker-registry, dpkg…) as interop oracles and fixtures.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var text: String { String(decoding: stdout, as: UTF8.self) }
    public var errorText: String { String(decoding: stderr, as: UTF8.self) }
}

public struct ToolError: Error, CustomStringConvertible {
    public var command: [String]
    public var output: ProcessOutput
    public var description: String {
        "\(command.joined(separator: " ")) exited \(output.status): \(output.errorText)\(output.text.prefix(2000))"
    }
}

public enum Tool {
    /// Runs `arguments` (looked up on PATH), feeding `input`, and waits without holding a
    /// thread of Swift concurrency's pool (swift-subprocess reads both pipes as they fill).
    @discardableResult
    public static func run(
        _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, check: Bool = true,
        directory: String? = nil
    ) async throws -> ProcessOutput {
        // env(1) sets the variables, and a shell the working directory (which keeps
        // swift-system's FilePath out of the test support's dependencies).
        var command = (environment ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if let directory { command += ["sh", "-c", "cd \"$0\" && exec \"$@\"", directory] }
        command += arguments
        let result = try await Subprocess.run(
            .name("env"), arguments: Arguments(command),
            input: .array(input.map { [UInt8]($0) } ?? []),
            output: .bytes(limit: 1 << 30), error: .bytes(limit: 1 << 26))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        let output = ProcessOutput(status: status, stdout: Data(result.standardOutput), stderr: Data(result.standardError))
        if check && output.status != 0 { throw ToolError(command: arguments, output: output) }
        return output
    }

    /// Runs `sql` with the sqlite3 shell on the store at `path`, waiting up to 30 s for a lock a
    /// running fathom holds (the shell's default is not to wait: CI's stop 37 failed on "database
    /// is locked" when a test's UPDATE met a service's write).
    @discardableResult
    public static func sqlite(_ path: String, _ sql: String, check: Bool = true) async throws -> ProcessOutput {
        try await run(["sqlite3", "-cmd", ".timeout 30000", path, sql], check: check)
    }

    /// Runs Debian's pip (the `python3-pip` that `.ci/run` installs) with `arguments`. Not the
    /// `python3` first on PATH: a pyenv shim there rehashes after each `pip install` and fails
    /// when two tests install at once (CI's stop 30: "cannot rehash: … isn't writable").
    @discardableResult
    public static func pip(_ arguments: [String], check: Bool = true) async throws -> ProcessOutput {
        try await run(
            ["/usr/bin/python3", "-m", "pip", "--disable-pip-version-check", "--no-input"] + arguments
                + (arguments.first == "install" ? ["--root-user-action=ignore"] : []),
            check: check)
    }

    /// Whether a tool is on PATH.
    public static func has(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }
}

extension Tool {
    /// Runs `arguments` as `run` does and also returns the process's peak resident memory in
    /// bytes, measured by the kernel (getrusage of a Python parent that runs only this child).
    public static func runMeasuringPeakRSS(
        _ arguments: [String], environment: [String: String]? = nil
    ) async throws -> (output: ProcessOutput, peakRSS: Int) {
        let directory = try Fixtures.temporaryDirectory("peak-rss")
        let script = """
            import resource, subprocess, sys
            status = subprocess.call(sys.argv[2:])
            open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
            sys.exit(status if status >= 0 else 128 - status)
            """
        let output = try await run(
            ["python3", "-c", script, directory + "/rss"] + arguments, environment: environment, check: false)
        let peak = Int((try? String(contentsOfFile: directory + "/rss", encoding: .utf8)) ?? "") ?? -1
        return (output, peak)
    }
}
