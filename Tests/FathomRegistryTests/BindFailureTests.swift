import FathomTestSupport
import Foundation
import Testing

/// A busy address is one error line naming the address and the cause, for serve and worker.
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
}
