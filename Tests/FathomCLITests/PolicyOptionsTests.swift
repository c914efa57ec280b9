import ArgumentParser
import FathomAdvisory
@testable import fathom
import Foundation
import Testing

/// The policy flags `scan`, `registry` and `rescan` share, parsed as the commands parse them.
@Suite struct PolicyOptionsTests {
    @Test func everyPolicyFlagParsesOnEveryFrontDoor() throws {
        let flags = [
            "--severity", "HIGH,CRITICAL", "--ignore-unfixed", "--exit-code", "3", "--allow-missing-data", "--skip-dirs", "usr/lib/x",
            "--ignore-status", "will_not_fix,fix_deferred", "--include-unimportant",
        ]
        let scan = try Scan.parse(["r.example/a:1"] + flags)
        let registry = try RegistryScan.parse(["r.example"] + flags)
        let rescan = try Rescan.parse(flags)
        for options in [scan.policyOptions, registry.policyOptions, rescan.policyOptions] {
            let policy = try options.policy()
            #expect(policy.severities == [.high, .critical])
            #expect(policy.ignoreUnfixed && policy.allowMissingData && policy.exitCode == 3)
            #expect(policy.skips.directories == ["usr/lib/x"])
            #expect(policy.ignoreStatuses == [.willNotFix, .fixDeferred] && policy.includeUnimportant)
        }
    }

    /// Which options repeat, as the configuration file's lists need to know, from the parser's
    /// own description of each command (an underscored API: a change in it must show here).
    @Test func theOptionsThatRepeatAreKnown() throws {
        let scan = try #require(CommandLineDefaults.options(of: Scan.self).repeating)
        #expect(scan.isSuperset(of: ["vex", "skip-dirs", "skip-files", "severity", "ignore-status", "insecure-registry"]), "\(scan)")
        #expect(!scan.contains("format") && !scan.contains("exit-code") && !scan.contains("platform"), "\(scan)")
        let registry = try #require(CommandLineDefaults.options(of: RegistryScan.self).repeating)
        #expect(registry.isSuperset(of: ["vex", "severity", "ignore-status"]), "\(registry)")
    }

    /// A malformed glob (fnmatch matches nothing with it) is a usage error naming it, not a
    /// registry that seems to hold no such image.
    @Test func aMalformedGlobIsAUsageError() throws {
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "--repo", "team-a/svc-["]) }
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "--tag", "1.[0-9"]) }
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "--repo", "team/[]"]) }
        for glob in ["team/*", "team/svc-[0-9]*", "team/[]ab]", "team/[!]x]*", "team/\\[literal", "**/tests"] {
            #expect(RegistryScan.isWellFormed(glob: glob), "\(glob)")
            _ = try RegistryScan.parse(["r.example", "--repo", glob])
        }
    }

    /// `registry -o` is a directory of per-image reports: a file's name (Trivy's -o) is refused
    /// before any scan, where it used to become a directory; html's fleet page is a file.
    @Test func registryOutputNamingAFileIsAUsageError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("output-\(UUID().uuidString)").path
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "-f", "json", "-o", directory + "/fleet.json"]) }
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "-f", "sarif", "-o", directory + "/out.sarif"]) }
        _ = try RegistryScan.parse(["r.example", "-f", "json", "-o", directory + "/reports"])
        _ = try RegistryScan.parse(["r.example", "-f", "html", "-o", directory + "/fleet.html"])
    }

    @Test func aWrongSeverityOrExitCodeIsAUsageError() {
        #expect(throws: (any Error).self) { try Scan.parse(["r.example/a:1", "--severity", "BOGUS"]) }
        #expect(throws: (any Error).self) { try RegistryScan.parse(["r.example", "--exit-code", "300"]) }
        // 64 is the usage error's code: a gate that failed with it would read as a mistyped command.
        #expect(throws: (any Error).self) { try Scan.parse(["r.example/a:1", "--exit-code", "64"]) }
        do {
            _ = try Scan.parse(["r.example/a:1", "--exit-code", "64"])
        } catch {
            #expect(Scan.message(for: error).contains("--exit-code 64 is fathom's code for a usage error"), "\(Scan.message(for: error))")
        }
        #expect(throws: Never.self) { try Scan.parse(["r.example/a:1", "--exit-code", "65"]) }
        #expect(throws: (any Error).self) { try Rescan.parse(["--severity", "HIGH,SEVERE"]) }
        #expect(throws: (any Error).self) { try Scan.parse(["r.example/a:1", "--ignore-status", "wontfix"]) }
    }

    @Test func durationsAndTimes() throws {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(try parseSince("2h", now: now) == now.addingTimeInterval(-7200))
        #expect(try parseSince("2026-01-02T03:04:05Z", now: now).timeIntervalSince1970 == 1_767_323_045)
        #expect(throws: (any Error).self) { try parseSince("soon", now: now) }
    }
}
