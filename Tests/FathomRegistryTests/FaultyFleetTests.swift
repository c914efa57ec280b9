import FathomCore
import FathomOCI
import FathomRegistry
import FathomTestSupport
import Foundation
import Testing

/// A 200-image fleet scanned through a proxy that faults one request in ten (429 with
/// `Retry-After`, 500/502/503, resets, truncated and stalled bodies, wrong blobs, slow answers)
/// in front of the real registry: every image comes out exactly as from a fault-free run,
/// retries stay bounded, nothing from a bad body is stored, and retries back off.
@Suite(.serialized, .timeLimit(.minutes(8))) struct FaultyFleetTests {
    static let imageCount = Int(ProcessInfo.processInfo.environment["FATHOM_FAULTY_FLEET_IMAGES"] ?? "") ?? 200

    @Test func aFleetScanAtATenPercentFaultRateMatchesAFaultFreeOne() async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        try await Self.pushFleet(to: registry, count: Self.imageCount)
        let directory = try Fixtures.temporaryDirectory("faulty-fleet")

        // The same fleet twice, each through a proxy: one that passes everything (to count the
        // requests a clean run makes), one that faults.
        func run(_ label: String, faults: Bool) async throws -> (reports: [String: String], proxy: FaultProxy, store: String) {
            let proxy = try await FaultProxy(upstream: registry.host)
            if faults {
                proxy.injectRandomly(
                    rate: 0.1,
                    faults: [
                        .status(429, retryAfter: "1"), .status(500), .status(502), .status(503), .reset, .truncate(keep: 1000),
                        .stall(afterBytes: 1000, for: .milliseconds(500)), .wrongBody, .delay(.milliseconds(300)),
                    ],
                    seed: 20261130)
            }
            let store = "\(directory)/\(label).db"
            for secdb in ["v3.7", "v3.10"] {
                let feed = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/\(secdb)/main.yaml").path
                try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, feed], environment: Fixtures.isolatedEnvironment)
            }
            let output = try await Tool.run(
                [Fixtures.fathomExecutable, "registry", proxy.host, "--store", store, "-f", "json", "-o", "\(directory)/\(label)"],
                environment: Fixtures.isolatedEnvironment, check: false)
            proxy.stop()
            let failures = ((try? JSONSerialization.jsonObject(with: output.stdout)) as? [String: Any])?["failures"] ?? "none"
            #expect(output.status == 0, "\(label): \(failures)")
            // What the retries log reads as the command's own lines do, not swift-log's.
            #expect(!output.errorText.contains("[FathomRegistry]"), "\(output.errorText)")
            if faults { #expect(output.errorText.contains("fathom: warning: body damaged in transit, reading it again (cause="), "\(output.errorText)") }
            var reports: [String: String] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(label)") {
                let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(label)/\(file)"))) as! [String: Any]
                let name = (report["artifact"] as? [String: Any])?["name"] as? String ?? file
                reports[String(name.drop { $0 != "/" }.dropFirst())] = Self.essence(report)
            }
            return (reports, proxy, store)
        }
        let clean = try await run("clean", faults: false)
        let faulty = try await run("faulty", faults: true)

        // Every image, scanned exactly as without faults.
        #expect(clean.reports.count == Self.imageCount)
        #expect(faulty.reports.keys.sorted() == clean.reports.keys.sorted())
        for (name, essence) in clean.reports where faulty.reports[name] != essence {
            Issue.record("\(name) differs under faults:\n\(faulty.reports[name] ?? "missing")\nvs\n\(essence)")
        }
        #expect(clean.reports.values.contains { $0.contains("CVE-") }, "the fleet has findings to compare")

        // Faults were really met, of every kind, and each cost at most one more request.
        let seen = faulty.proxy.seen
        let faulted = seen.filter { $0.fault != nil }
        let kinds = Set(faulted.compactMap { $0.fault?.split(separator: "(").first.map(String.init) })
        #expect(kinds.isSuperset(of: ["status", "reset", "truncate", "stall", "wrongBody", "delay"]), "\(kinds)")
        let rate = Double(faulted.count) / Double(seen.count)
        #expect(rate > 0.05 && rate < 0.15, "fault rate \(rate)")
        #expect(seen.count <= clean.proxy.seen.count + faulted.count + 5, "\(seen.count) requests against \(clean.proxy.seen.count) clean, \(faulted.count) faults")

        // Backoff: after a fault, the same request comes again only after a pause; after a 429
        // with Retry-After: 1, only after that second.
        for (index, fault) in seen.enumerated() where fault.fault?.hasPrefix("status") == true {
            guard let retry = seen[(index + 1)...].first(where: { $0.request == fault.request }) else { continue }
            let pause = retry.at - fault.at
            let least: Duration = fault.fault!.contains("429") ? .milliseconds(900) : .milliseconds(100)
            #expect(pause >= least, "\(fault.request) retried after \(pause) following \(fault.fault!)")
        }

        // Nothing from a bad body was stored: both stores hold the same layers with the same facts.
        #expect(try await Self.layerFacts(faulty.store) == Self.layerFacts(clean.store))
    }

    /// What must not change: the OS, the packages and the findings.
    static func essence(_ report: [String: Any]) -> String {
        let os = report["os"] as? [String: Any] ?? [:]
        let packages = (report["packages"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "") \($0["version"] ?? "")" }.sorted()
        let findings = (report["vulnerabilities"] as? [[String: Any]] ?? []).map {
            "\($0["id"] ?? "") \($0["package"] ?? "") \($0["installedVersion"] ?? "") \($0["fixedVersion"] ?? "-")"
        }.sorted()
        return "\(os["id"] ?? "") \(os["versionID"] ?? "")\n" + packages.joined(separator: "\n") + "\n" + findings.joined(separator: "\n")
    }

    /// `digest facts` of every stored layer, the facts' JSON in a canonical form (sorted keys:
    /// Swift's dictionaries encode in a per-process order).
    static func layerFacts(_ store: String) async throws -> String {
        try await Tool.run([
            "python3", "-c",
            "import json,sqlite3,sys; [print(d, json.dumps(json.loads(f), sort_keys=True)) for d, f in sqlite3.connect(sys.argv[1]).execute('SELECT digest, facts FROM layer_facts ORDER BY digest')]",
            store,
        ]).text
    }

    /// `count` images: an Alpine 3.7.3 or 3.10.9 base and an application layer of their own.
    static func pushFleet(to registry: LocalRegistry, count: Int) async throws {
        let bases = try ["3.7.3", "3.10.9"].map {
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.image("alpine-minirootfs/alpine-minirootfs-\($0)-x86_64.tar.gz"))))
        }
        let client = try registry.client()
        try await withClient(client) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    if index >= 8 { try await group.next() }
                    group.addTask {
                        let reference = try registry.reference("fleet/app-\(index)", "1")
                        let app = try await HostileLayers.gzip(HostileLayers.tar([("app/\(index)", "0", "application \(index)\n")]))
                        var descriptors: [[String: Any]] = []
                        for blob in [bases[index % 2], app] {
                            let digest = try await client.uploadBlob(reference, blob)
                            descriptors.append(["mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest.description, "size": blob.count])
                        }
                        let config = [UInt8](try JSONSerialization.data(withJSONObject: [
                            "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                            "rootfs": ["type": "layers", "diff_ids": descriptors.map { $0["digest"]! }],
                        ] as [String: Any]))
                        let configDigest = try await client.uploadBlob(reference, config)
                        let manifest: [String: Any] = [
                            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest.description, "size": config.count],
                            "layers": descriptors,
                        ]
                        try await client.putManifest(reference, [UInt8](try JSONSerialization.data(withJSONObject: manifest)), mediaType: .ociManifest)
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// `--image-timeout`: an image whose layer stalls fails at its deadline, named, and the rest of
/// the fleet is scanned without waiting for it.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ImageTimeoutTests {
    @Test func aStalledImageFailsAtItsDeadlineAndTheFleetGoesOn() async throws {
        let registry = try await LocalRegistry()
        defer { registry.stop() }
        try await FaultyFleetTests.pushFleet(to: registry, count: 6)
        let proxy = try await FaultProxy(upstream: registry.host)
        defer { proxy.stop() }
        // The application layer of app-3 only (its manifest names it; the base is shared).
        let manifest = try await withClient(try registry.client()) { try await $0.manifest(try registry.reference("fleet/app-3", "1")) }
        let layers = (try JSONSerialization.jsonObject(with: Data(manifest.bytes)) as! [String: Any])["layers"] as! [[String: Any]]
        let stalled = layers[1]["digest"] as! String
        proxy.inject(.stall(afterBytes: 10, for: .seconds(60)), pathContains: stalled, times: 10)
        let directory = try Fixtures.temporaryDirectory("image-timeout")
        for secdb in ["v3.7", "v3.10"] {
            let feed = Fixtures.root.appendingPathComponent("advisories/alpine-secdb/\(secdb)/main.yaml").path
            try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", directory + "/fathom.db", feed], environment: Fixtures.isolatedEnvironment)
        }
        let started = ContinuousClock.now
        let output = try await Tool.run(
            [Fixtures.fathomExecutable, "registry", proxy.host, "--store", directory + "/fathom.db", "-f", "json", "--image-timeout", "10s", "--exit-code", "3"],
            environment: Fixtures.isolatedEnvironment, check: false)
        let elapsed = ContinuousClock.now - started
        let summary = try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any]
        // Images keep findings, but one was not scanned: the run is not the gate's verdict, it
        // failed (as Trivy's error outranks its --exit-code).
        let failing = summary["policyFailures"] as? [[String: Any]] ?? []
        #expect(output.status == 1 && failing.contains { $0["kind"] as? String == "fail" }, "\(output.status) \(output.errorText) \(failing)")
        let failures = summary["failures"] as? [[String: Any]] ?? []
        #expect(failures.map { $0["name"] as? String } == ["\(proxy.host)/fleet/app-3:1"], "\(failures)")
        #expect((failures.first?["reason"] as? String)?.contains("the image took longer than 10.0 seconds (--image-timeout)") == true, "\(failures)")
        #expect((summary["images"] as? [String: Any])?["scanned"] as? Int == 5)
        // Not held for the stalled body's 60 s (a hang guard, not a benchmark).
        #expect(elapsed < .seconds(50))
        let refused = try await Tool.run(
            [Fixtures.fathomExecutable, "registry", proxy.host, "--image-timeout", "soon"], environment: Fixtures.isolatedEnvironment, check: false)
        #expect(refused.status == 64 && refused.errorText.contains("--image-timeout"))
    }
}
