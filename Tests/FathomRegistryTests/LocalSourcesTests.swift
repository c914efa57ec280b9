import FathomTestSupport
import Foundation
import NIOHTTP1
import Testing

/// `--allow-local-sources DIR`: the service scans OCI layouts and archives under DIR that scan
/// requests name (a registry mirrored to a shared volume), reports them by their path under DIR
/// and tag, and refuses any path outside DIR however it is spelled (`..`, a symlink), and every
/// local path when the flag is not given.
@Suite(.serialized, .timeLimit(.minutes(4))) struct LocalSourcesTests {
    @Test func theServiceScansLayoutsUnderItsDirectoryOnly() async throws {
        let layout = try await TestImages.layout()
        let mirror = try Fixtures.temporaryDirectory("mirror")
        try FileManager.default.createDirectory(atPath: mirror + "/team", withIntermediateDirectories: true)
        try await Tool.run(["cp", "-r", layout.directory, mirror + "/team/alpine"])
        let outside = try Fixtures.temporaryDirectory("outside")
        try await Tool.run(["cp", "-r", layout.directory, outside + "/alpine"])
        try FileManager.default.createSymbolicLink(atPath: mirror + "/escape", withDestinationPath: outside + "/alpine")
        // An OCI archive of the same layout.
        try await Tool.run(["tar", "-C", mirror + "/team/alpine", "-cf", mirror + "/team/archived.tar", "."])

        let service = try await ServiceTests.startService(workers: 1, arguments: ["--allow-local-sources", mirror])
        defer { service.server.stop() }
        for (image, repository) in [("oci:\(mirror)/team/alpine:gzip", "team/alpine"), ("oci-archive:\(mirror)/team/archived.tar:gzip", "team/archived")] {
            let queued = try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#)
            #expect(queued.status == 202, "\(image): \(String(decoding: queued.body, as: UTF8.self))")
            try await ServiceTests.eventually("the report of \(image)", seconds: 60) {
                try await ServiceTests.request(.GET, "\(service.base)/v1/images/\(repository)/gzip").status == 200
            }
            let report = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/images/\(repository)/gzip").body)
            let packages = (report["packages"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(packages.contains("musl"), "\(image): \(packages)")
            #expect(((report["vulnerabilities"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "CVE-2019-14697" })
        }
        // A relative path is under the directory, not the service's working directory: the
        // same image, the same job name.
        let relative = try ServiceTests.object(
            try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "oci:team/alpine:gzip"}"#).body)
        let absolute = try ServiceTests.object(
            try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "oci:\#(mirror)/team/alpine:gzip"}"#).body)
        #expect(relative["image"] as? String != nil && relative["image"] as? String == absolute["image"] as? String, "\(relative) \(absolute)")

        // A rescan after new advisory data says it in the local images' reports too (their names
        // are no registry references to find their reports by).
        let advisory = service.directory + "/ALPINE-TEST-1.json"
        try #"{"id": "ALPINE-TEST-1", "modified": "2026-12-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Alpine:v3.7", "name": "busybox"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99"}]}]}]}"#
            .write(toFile: advisory, atomically: true, encoding: .utf8)
        try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", service.store, "--source", "test", advisory], environment: Fixtures.isolatedEnvironment)
        #expect(try await ServiceTests.request(.POST, "\(service.base)/v1/rescans").status == 202)
        for repository in ["team/alpine", "team/archived"] {
            try await ServiceTests.eventually("the rescanned report of \(repository)", seconds: 60) {
                let report = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/images/\(repository)/gzip").body)
                return ((report["vulnerabilities"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "ALPINE-TEST-1" }
            }
        }

        // Outside the directory, by `..` or by a symlink inside it; a missing layout; another kind of source.
        for image in [
            "oci:\(mirror)/../\(URL(fileURLWithPath: outside).lastPathComponent)/alpine:gzip", "oci:\(mirror)/escape:gzip", "oci:\(outside)/alpine:gzip",
            "oci:\(mirror)/team/none:gzip", "dir:\(mirror)/team/alpine", "oci:\(mirror):gzip",
            "oci:\(mirror)/team/archived.tar:gzip", "oci-archive:\(mirror)/team/alpine:gzip",
            "oci:../\(URL(fileURLWithPath: outside).lastPathComponent)/alpine:gzip",
        ] {
            let refused = try await ServiceTests.request(.POST, "\(service.base)/v1/scans", body: #"{"image": "\#(image)"}"#)
            #expect(refused.status == 400, "\(image) was taken: \(String(decoding: refused.body, as: UTF8.self))")
        }
        // The two scans, the relative and absolute paths' (one job when the second finds the first
        // queued), and the rescan (the scheduler may queue its own for
        // the import too, when the first has ended before it looks); none refused was queued.
        var summary: [String: Int]?
        try await ServiceTests.eventually("the jobs to end") {
            summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["queued"] == 0 && summary?["running"] == 0
        }
        #expect((4...6).contains(summary?["done"] ?? 0) && summary?["dead"] == 0, "\(String(describing: summary))")
        // The dashboard's list links each local image to its page, by the repository its report is found by.
        let list = String(decoding: try await ServiceTests.request(.GET, "\(service.base)/images").body, as: UTF8.self)
        for repository in ["team/alpine", "team/archived"] {
            #expect(list.contains("href=\"/images/\(repository)/gzip\""), "\(repository) is not linked: \(list)")
            #expect(try await ServiceTests.request(.GET, "\(service.base)/images/\(repository)/gzip").status == 200)
        }

        // Without the flag, no local path is read.
        let plain = try await ServiceTests.startService(workers: 1)
        defer { plain.server.stop() }
        let refused = try await ServiceTests.request(.POST, "\(plain.base)/v1/scans", body: #"{"image": "oci:\#(mirror)/team/alpine:gzip"}"#)
        #expect(refused.status == 400 && String(decoding: refused.body, as: UTF8.self).contains("--allow-local-sources"))
    }
}
