import FathomTestSupport
import Foundation
import Testing

/// A busy address, or a file or directory that is not there, is one error line naming it, for
/// serve and worker: exit 1, not a crash.
@Suite(.timeLimit(.minutes(5))) struct BindFailureTests {
    @Test func aBusyPortIsNamedInOneLine() async throws {
        // A real listener holds the port: the web server the tests use.
        let server = try await LocalHTTPServer(root: try Fixtures.temporaryDirectory("busy-port"))
        let address = String(server.base.dropFirst("http://".count))
        let store = try Fixtures.temporaryDirectory("busy-port-store") + "/fathom.db"
        for command in [["serve", "--workers", "0"], ["worker", "--workers", "1"]] {
            let output = try await Tool.run(
                [Fixtures.fathomExecutable] + command + ["--listen", address, "--store", store], environment: Fixtures.isolatedEnvironment, check: false)
            #expect(output.status == 1)
            let errors = output.errorText.split(separator: "\n").filter { $0.contains("error") }
            #expect(errors.count == 1, "\(command[0]): \(output.errorText)")
            #expect(errors.first?.contains("cannot listen on \(address): address already in use") == true, "\(command[0]): \(output.errorText)")
            #expect(!output.errorText.contains("bind(descriptor"))
        }
    }

    @Test func aMissingFileStopsTheStartInOneLine() async throws {
        let directory = try Fixtures.temporaryDirectory("missing-files")
        let store = directory + "/fathom.db"
        let missing = directory + "/none"
        for command in [["serve", "--workers", "0"], ["worker", "--workers", "1"]] {
            for (option, said) in [
                ("--ignore-file", "cannot read the ignore file"), ("--vex", "cannot read the VEX document"),
                ("--allow-local-sources", "--allow-local-sources names no directory"),
                ("--harbor-credential-key-file", "cannot read the Harbor credential key file"),
            ] {
                let output = try await Tool.run(
                    [Fixtures.fathomExecutable] + command + ["--store", store, option, missing], environment: Fixtures.isolatedEnvironment, check: false)
                // Before, the registry client and the store were opened first and never closed:
                // a debug build trapped in the client's deinit (exit 132, a backtrace).
                #expect(output.status == 1, "\(command[0]) \(option): \(output.status) \(output.errorText)")
                let errors = output.errorText.split(separator: "\n").filter { $0.contains("error") }
                #expect(errors.count == 1 && errors[0].contains(said) && errors[0].contains(missing), "\(command[0]) \(option): \(output.errorText)")
            }
        }
        // A negative count is refused by its range, not taken for a missing value.
        let negative = try await Tool.run(
            [Fixtures.fathomExecutable, "worker", "--store", store, "--workers", "-1"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(negative.status == 64 && negative.errorText.contains("--workers must be 0 or more"), "\(negative.errorText)")
    }
}
