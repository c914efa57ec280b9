import ArgumentParser
import FathomAdvisory
import FathomCore
import FathomEngine
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomStore
import Foundation

/// The policy flags `scan`, `registry` and `rescan` share: what is filtered, what is accepted
/// (ignore file, VEX), and what makes `--exit-code` fail the run.
struct PolicyOptions: ParsableArguments {
    // Repeatable, and each may list several: `--severity HIGH --severity CRITICAL` is both (a
    // second flag, or a configuration file's YAML list, must not silently replace the first).
    @Option(help: "Report only these severities (comma-separated or repeated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN).")
    var severity: [String] = []

    @Flag(help: "Leave out findings that have no fixed version yet.")
    var ignoreUnfixed = false

    @Option(help: "Leave out findings whose vendor status is one of these (comma-separated or repeated: fixed, affected, will_not_fix, fix_deferred, end_of_life, under_investigation).")
    var ignoreStatus: [String] = []

    @Flag(help: "Also report what Debian rates unimportant (left out by default, as Debian does not treat them as security issues).")
    var includeUnimportant = false

    @Flag(help: "Count findings in kernel packages (linux-image-*, kernel, kernel-core, linux-lts, …) like any other; by default they are listed apart and left out of the verdict, since a container runs on its host's kernel.")
    var includeKernel = false

    @Flag(help: "Report only what CISA's Known Exploited Vulnerabilities catalog lists (import the KEV feed: fathom db update).")
    var kevOnly = false

    @Option(help: "Report only findings whose EPSS score (the probability of exploitation in the next 30 days) is at least this, 0 to 1 (import the EPSS feed).")
    var epssThreshold: Double?

    @Option(help: "Ignore file: `ID [pkg:NAME] [exp:YYYY-MM-DD]` per line (default: ./.fathomignore if present).")
    var ignoreFile: String?

    @Option(help: "VEX document (OpenVEX, CycloneDX VEX or CSAF VEX) whose not_affected and fixed statements suppress findings (repeatable).")
    var vex: [String] = []

    @Flag(help: "Also apply the VEX documents attached to each registry image as OCI referrers (the referrers API, else its tag schema).")
    var vexReferrers = false

    @Option(help: "Leave out packages read from files under directories matching this glob (repeatable; e.g. 'usr/local/lib/node_modules', '*/tests').")
    var skipDirs: [String] = []

    @Option(help: "Leave out packages read from files matching this glob (repeatable; e.g. '*/requirements-dev.txt').")
    var skipFiles: [String] = []

    // Unconditional: `--exit-code -1` is a value to refuse by its range, not a missing one.
    @Option(parsing: .unconditional, help: "Exit with this code when any finding survives the policy (in any image).")
    var exitCode: Int32 = 0

    @Flag(help: "Give a verdict (--exit-code) even when an image's OS or a language ecosystem it holds has no advisory data.")
    var allowMissingData = false

    /// Every `--severity` given, as one comma-separated list (nil: none given).
    var severities: String? { severity.isEmpty ? nil : severity.joined(separator: ",") }
    /// Every `--ignore-status` given, as one comma-separated list.
    var statuses: String? { ignoreStatus.isEmpty ? nil : ignoreStatus.joined(separator: ",") }

    func validate() throws {
        guard (0...255).contains(exitCode) else { throw ValidationError("--exit-code must be 0 to 255 (a process exit status), not \(exitCode)") }
        // A gate that failed must not read as a mistyped command.
        guard exitCode != 64 else { throw ValidationError("--exit-code 64 is fathom's code for a usage error: give another (1 to 255)") }
        if let epssThreshold, !(0...1).contains(epssThreshold) {
            throw ValidationError("--epss-threshold is a probability, 0 to 1 (0.1 is 10%), not \(epssThreshold)")
        }
        // Each names its option: set by a variable or a file, the user typed neither.
        do {
            if let severities { _ = try ScanPolicy.severities(severities) }
        } catch let error as FathomError {
            throw ValidationError("--severity: \(error.message)")
        }
        do {
            if let statuses { _ = try Finding.Status.list(statuses) }
        } catch let error as FathomError {
            throw ValidationError("--ignore-status: \(error.message)")
        }
    }

    /// The policy the flags describe, with the ignore file and VEX documents read; a file that
    /// cannot be read or parsed is one error line and exit 1.
    func policy() throws -> ScanPolicy {
        var policy = ScanPolicy()
        do {
            policy.severities = try severities.map(ScanPolicy.severities)
            policy.ignoreUnfixed = ignoreUnfixed
            policy.ignoreStatuses = try statuses.map(Finding.Status.list) ?? []
            policy.includeUnimportant = includeUnimportant
            policy.includeKernel = includeKernel
            policy.kevOnly = kevOnly
            policy.epssThreshold = epssThreshold
            policy.skips = PathSkips(directories: skipDirs, files: skipFiles)
            policy.exitCode = exitCode
            policy.allowMissingData = allowMissingData
            var ignorePath = ignoreFile ?? (FileManager.default.fileExists(atPath: ".fathomignore") ? ".fathomignore" : nil)
            // Trivy's ignore file in the same place is read when fathom's is absent: its lines
            // (`ID [exp:YYYY-MM-DD]`) are fathom's, and a user moving over keeps the rules.
            if ignorePath == nil, FileManager.default.fileExists(atPath: ".trivyignore") {
                printNote("reading .trivyignore (Trivy's ignore file; fathom's own is .fathomignore)")
                ignorePath = ".trivyignore"
            } else if ignoreFile == nil, ignorePath != nil, FileManager.default.fileExists(atPath: ".trivyignore") {
                // Both: only fathom's is read, and its rules are not the other's (a user who kept
                // both would otherwise find a .trivyignore rule silently not applied).
                printWarning(".trivyignore is not read: .fathomignore is (fathom reads one ignore file; --ignore-file names it)")
            }
            try policy.read(ignoreFile: ignorePath, vex: vex) { warning in
                printWarning(warning)
            }
        } catch {
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
        return policy
    }
}

extension PolicyOptions {
    /// With `--vex-referrers`, `session` joined by the VEX documents attached to the image a
    /// pipeline outcome read from a registry (a warning names what could not be read).
    func session(_ session: ScanSession, for outcome: FleetOutcome, client: RegistryClient?) async -> ScanSession {
        guard vexReferrers, let client else { return session }
        let image: MatchedImage
        switch outcome {
        case .scanned(let scanned), .unchanged(let scanned): image = scanned
        case .skipped, .failed, .removed: return session
        }
        // Only images read from a registry have referrers (a layout or an archive holds none).
        guard let digest = image.image.manifestDigest, case .registry(let reference) = try? SourceReference(parsing: image.name) else {
            return session
        }
        let warn = printWarning
        do {
            return session.with(vex: try await ScanSession.referredVEX(client: client, reference: reference, digest: digest, warn: warn))
        } catch {
            warn("\(image.name): the VEX attached to it was not looked up: \(FathomError.wrapping(error))")
            return session
        }
    }
}
