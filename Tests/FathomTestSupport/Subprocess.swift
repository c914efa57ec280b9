public import Foundation

/// Runs real tools (tar, skopeo, docker-registry, dpkg…) as interop oracles and fixtures.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var text: String { String(decoding: stdout, as: UTF8.self) }
    public var errorText: String { String(decoding: stderr, as: UTF8.self) }
}

public struct SubprocessError: Error, CustomStringConvertible {
    public var command: [String]
    public var output: ProcessOutput
    public var description: String {
        "\(command.joined(separator: " ")) exited \(output.status): \(output.errorText)\(output.text.prefix(2000))"
    }
}

public enum Subprocess {
    /// Runs `arguments` (looked up on PATH), feeding `input`, and waits.
    @discardableResult
    public static func run(
        _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil, check: Bool = true,
        directory: String? = nil
    ) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        // Read both pipes concurrently so neither fills and blocks the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errorData = Data()
        group.enter()
        DispatchQueue.global().async {
            errorData = stderr.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let output = ProcessOutput(status: process.terminationStatus, stdout: outputData, stderr: errorData)
        if check && output.status != 0 { throw SubprocessError(command: arguments, output: output) }
        return output
    }

    /// Whether a tool is on PATH.
    public static func has(_ tool: String) -> Bool {
        (try? run(["sh", "-c", "command -v \(tool)"], check: false).status) == 0
    }
}
