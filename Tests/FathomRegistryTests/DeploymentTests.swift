import FathomCore
import FathomStore
import FathomStores
import FathomTestSupport
import Foundation
import Testing
import Yams

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

    /// KEDA's ScaledObject is valid by KEDA's own CustomResourceDefinition (strictly: no field it
    /// does not name), scales the worker Deployment through a variable that Deployment's container
    /// sets, and its query, run on a real fathom store, counts the jobs running and those queued that can run.
    @Test func kedaScalesTheWorkersOnTheQueue() async throws {
        let file = Self.manifests + "/keda/scaledobject.yaml"
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let crd = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/schemas/keda/keda.sh_scaledobjects.yaml").path
        let validator = Fixtures.repositoryRoot.appendingPathComponent("Tests/Deploy/validate-custom-resource.py").path
        let output = try await Tool.run(["python3", validator, crd, file], environment: environment, check: false)
        #expect(output.status == 0 && output.text.contains("valid: ScaledObject fathom-worker"), "\(output.text)\(output.errorText)")

        let scaled = try #require(try Yams.load(yaml: String(contentsOfFile: file, encoding: .utf8)) as? [String: Any])
        let spec = try #require(scaled["spec"] as? [String: Any])
        let target = try #require(spec["scaleTargetRef"] as? [String: Any])
        let worker = try #require(try Yams.load(yaml: String(contentsOfFile: Self.manifests + "/worker.yaml", encoding: .utf8)) as? [String: Any])
        #expect(target["kind"] as? String == worker["kind"] as? String && target["name"] as? String == (worker["metadata"] as? [String: Any])?["name"] as? String)
        let containers = try #require(((worker["spec"] as? [String: Any])?["template"] as? [String: Any]).flatMap { ($0["spec"] as? [String: Any])?["containers"] as? [[String: Any]] })
        let container = try #require(containers.first { $0["name"] as? String == target["envSourceContainerName"] as? String }, "the container KEDA reads")
        let trigger = try #require((spec["triggers"] as? [[String: Any]])?.first)
        let metadata = try #require(trigger["metadata"] as? [String: Any])
        #expect(trigger["type"] as? String == "postgresql")
        let variables = (container["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(variables.contains(try #require(metadata["connectionFromEnv"] as? String)), "KEDA's connection is the worker's own store URL")
        #expect(spec["minReplicaCount"] as? Int == 0)

        // The query on a fathom store: two queued, one running, one done, one dead, and one
        // queued behind a queued one of its image name, which no pod can take yet.
        let url = try await LocalPostgres.shared.value.database("keda")
        let store = try await openStore(url)
        let now = Date()
        for index in 0..<5 {
            _ = try await store.enqueue(NewJob(kind: .scan, key: "scan r/keda:\(index)", image: "r/keda:\(index)", repository: "keda", reference: "\(index)"), now: now)
        }
        _ = try await store.enqueue(NewJob(kind: .scan, key: "scan r/keda:4@sha256:2", image: "r/keda:4", repository: "keda", reference: "4"), now: now)
        let running = try #require(try await store.claim(worker: "w", lease: .seconds(60), now: now))
        let done = try #require(try await store.claim(worker: "w", lease: .seconds(60), now: now))
        try await store.complete(done.id, worker: "w", now: now)
        let dead = try #require(try await store.claim(worker: "w", lease: .seconds(60), now: now))
        try await store.fail(dead.id, worker: "w", error: "refused", retryAfter: .zero, maxAttempts: 1, now: now)
        try await store.close()
        #expect(running.state == .running)
        let database = try #require(URL(string: url)?.lastPathComponent)
        let depth = try await LocalPostgres.shared.value.query(try #require(metadata["query"] as? String), database: database)
        #expect(depth == "3", "queued and running jobs that can run, as KEDA's query counts them")
    }

    @Test func everyFlagTheManifestsPassIsOneFathomTakes() async throws {
        let version = try await Tool.run([Fixtures.fathomExecutable, "--version"]).text.split(separator: "\n").first.map(String.init) ?? ""
        for (file, command) in [("api.yaml", "serve"), ("worker.yaml", "worker")] {
            let text = try String(contentsOfFile: Self.manifests + "/" + file, encoding: .utf8)
            // The image deploy/build-image.sh tags with this version.
            #expect(text.contains("image: registry.example.internal/fathom:\(version.replacingOccurrences(of: "fathom ", with: ""))\n"), "\(file)")
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
