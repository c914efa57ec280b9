public import Foundation

/// Paths to the test data: the repository's own copies under `Tests/Fixtures`, and the shared
/// data set beside the repository (`../shared/data`) for the larger files.
public enum Fixtures {
    /// The repository root.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures`.
    public static let root = repositoryRoot.appendingPathComponent("Tests/Fixtures")

    /// `Tests/Fixtures/images/…`.
    public static func image(_ relative: String) -> String {
        root.appendingPathComponent("images").appendingPathComponent(relative).path
    }

    /// `../shared/data`, or `$FATHOM_SHARED_DATA`.
    public static let sharedData: URL = {
        if let override = ProcessInfo.processInfo.environment["FATHOM_SHARED_DATA"] {
            return URL(fileURLWithPath: override)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// A fresh scratch directory under the system temporary directory.
    public static func temporaryDirectory(_ label: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fathom-test-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Decodes a truth JSON file.
    public static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The `fathom` executable built beside the tests (or `$FATHOM_BIN`).
    /// The environment for running `fathom` with a default store of its own (not the user's
    /// `~/.cache/fathom`), shared by the tests of one process.
    public static let isolatedEnvironment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = try? temporaryDirectory("xdg-cache")
        return environment
    }()

    public static var fathomExecutable: String {
        if let override = ProcessInfo.processInfo.environment["FATHOM_BIN"] { return override }
        // Test bundles sit in the same build directory as the executable.
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("fathom")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/fathom").path
    }
}
