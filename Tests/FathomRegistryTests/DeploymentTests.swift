import FathomTestSupport
import Foundation
import Testing

/// The Kubernetes manifests in deploy/ are valid by Kubernetes' own schemas
/// (`kubernetes-validate --strict`), and every flag they pass to fathom is one it takes.
@Suite struct DeploymentTests {
    static let manifests = Fixtures.repositoryRoot.appendingPathComponent("deploy/kubernetes").path

    @Test func manifestsValidateStrictly() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.manifests).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 6)
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let output = try await Tool.run(
            ["python3", "-m", "kubernetes_validate", "--strict"] + files.map { Self.manifests + "/" + $0 }, environment: environment,
            check: false)
        #expect(output.status == 0, "\(output.text)\(output.errorText)")
        // One "passed" line per resource, so a file the validator skipped cannot pass unseen.
        let resources = try files.map { try String(contentsOfFile: Self.manifests + "/" + $0, encoding: .utf8) }
            .map { $0.components(separatedBy: "\nkind: ").count - 1 + ($0.hasPrefix("kind: ") ? 1 : 0) }.reduce(0, +)
        #expect((output.text + output.errorText).components(separatedBy: " passed for resource ").count - 1 == resources)
    }

    @Test func everyFlagTheManifestsPassIsOneFathomTakes() async throws {
        for (file, command) in [("api.yaml", "serve"), ("worker.yaml", "worker")] {
            let text = try String(contentsOfFile: Self.manifests + "/" + file, encoding: .utf8)
            let flags = Set(text.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("- --") else { return nil }
                return String(trimmed.dropFirst(2).prefix { $0 != "=" })
            })
            #expect(flags.count >= 5, "\(file)")
            let help = try await Tool.run([Fixtures.fathomExecutable, command, "--help"]).text
            for flag in flags { #expect(help.contains(flag + " "), "\(file): fathom \(command) has no \(flag)") }
            // No secret reaches a command line: every value from the Secret is a file or FATHOM_STORE.
            let arguments = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("- --") }
            #expect(!arguments.contains { $0.contains("$(FATHOM_STORE)") || $0.hasPrefix("- --store=") }, "\(file)")
            #expect(text.contains("name: FATHOM_STORE"), "\(file)")
        }
    }
}
