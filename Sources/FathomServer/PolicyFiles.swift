public import FathomAdvisory
import FathomCore
import Foundation
public import Logging

/// The service's policy: `--ignore-file` and `--vex` read again whenever one of them changes
/// (its modification time or size), so that an operator's accepted risks apply from the next
/// scan and the next rescan without a restart. A file that cannot be read or parsed keeps the
/// policy it had and is logged as an error, naming the file.
public final class PolicyFiles: Sendable {
    let ignoreFile: String?
    let vexFiles: [String]
    let logger: Logger
    private let state: Locked<(policy: ScanPolicy, stamps: [String], generation: Int)>

    /// Reads the files once; an error here is the caller's to report (a service does not start on a broken policy).
    public init(ignoreFile: String?, vexFiles: [String], logger: Logger) throws {
        self.ignoreFile = ignoreFile
        self.vexFiles = vexFiles
        self.logger = logger
        var policy = ScanPolicy()
        try policy.read(ignoreFile: ignoreFile, vex: vexFiles) { logger.warning("\($0)") }
        state = Locked((policy, Self.stamps(of: [ignoreFile].compactMap { $0 } + vexFiles), 0))
    }

    /// Whether no file was named (the empty policy, for ever).
    public var isEmpty: Bool { ignoreFile == nil && vexFiles.isEmpty }

    /// No files: the empty policy.
    public static var none: PolicyFiles {
        // Reading no files cannot fail.
        try! PolicyFiles(ignoreFile: nil, vexFiles: [], logger: Logger(label: "fathom.policy"))
    }

    /// The current policy and its generation (it grows each time the files are read again).
    public func current() -> (policy: ScanPolicy, generation: Int) {
        let paths = [ignoreFile].compactMap { $0 } + vexFiles
        let stamps = Self.stamps(of: paths)
        let known = state.withLock { $0 }
        guard stamps != known.stamps else { return (known.policy, known.generation) }
        var policy = ScanPolicy()
        do {
            try policy.read(ignoreFile: ignoreFile, vex: vexFiles) { logger.warning("\($0)") }
        } catch {
            logger.error("the policy files changed but cannot be read: the policy stays as it was", metadata: ["error": "\(FathomError.plain(error))"])
            state.withLock { $0.stamps = stamps }
            return (known.policy, known.generation)
        }
        logger.notice("policy files changed: read again", metadata: ["files": "\(paths.joined(separator: ", "))"])
        return state.withLock { held in
            held = (policy, stamps, held.generation + 1)
            return (policy, held.generation)
        }
    }

    static func stamps(of paths: [String]) -> [String] {
        paths.map { path in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return "\(path): missing" }
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(path): \(modified) \(attributes[.size] as? Int ?? -1)"
        }
    }
}
