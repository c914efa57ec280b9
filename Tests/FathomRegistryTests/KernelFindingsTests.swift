import FathomAdvisory
import FathomInventory
import FathomTestSupport
import Foundation
import Testing

/// Findings in packages that hold a kernel are listed apart and left out of the verdict.
@Suite(.timeLimit(.minutes(2))) struct KernelFindingsTests {
    @Test func whichPackagesHoldAKernel() {
        for (ecosystem, name) in [
            ("deb", "linux-image-6.1.0-13-amd64"), ("deb", "linux-modules-5.15.0-91-generic"), ("rpm", "kernel"), ("rpm", "kernel-core"),
            ("rpm", "kernel-modules-extra"), ("rpm", "kernel-default"), ("rpm", "kernel-uek"), ("apk", "linux-lts"), ("apk", "linux-virt"),
        ] {
            #expect(KernelPackages.holdsKernel(ecosystem: ecosystem, name: name), "\(ecosystem) \(name)")
        }
        for (ecosystem, name) in [
            ("deb", "linux-libc-dev"), ("deb", "linux-headers-6.1.0-13-amd64"), ("deb", "linux-base"), ("rpm", "kernel-headers"),
            ("rpm", "kernel-tools"), ("rpm", "kernel-devel"), ("apk", "linux-pam"), ("apk", "linux-headers"), ("apk", "linux-firmware-none"),
            ("pypi", "kernel"),
        ] {
            #expect(!KernelPackages.holdsKernel(ecosystem: ecosystem, name: name), "\(ecosystem) \(name)")
        }
    }

    /// A Debian root with a kernel image and the kernel's userland headers, both built from
    /// `linux`, and one open tracker issue against `linux`: the image's finding is listed apart,
    /// the headers' is a finding, and `--include-kernel` counts both.
    @Test func kernelFindingsAreListedApartFromTheVerdict() async throws {
        let directory = try Fixtures.temporaryDirectory("kernel-root")
        let root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n".write(toFile: root + "/etc/os-release", atomically: true, encoding: .utf8)
        let status = """
            Package: linux-image-6.1.0-13-amd64
            Status: install ok installed
            Architecture: amd64
            Source: linux-signed-amd64 (6.1.55+1)
            Version: 6.1.55-1

            Package: linux-libc-dev
            Status: install ok installed
            Architecture: amd64
            Source: linux
            Version: 6.1.55-1

            """
        try status.write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        let tracker = """
            {"linux": {"CVE-2023-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "6.1.64-1", "urgency": "medium"}}}},
             "linux-signed-amd64": {"CVE-2023-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "6.1.64+1", "urgency": "medium"}}}}}
            """
        try tracker.write(toFile: directory + "/tracker.json", atomically: true, encoding: .utf8)
        let store = directory + "/fathom.db"
        #expect(try await Tool.run([Fixtures.fathomExecutable, "db", "import", "--store", store, directory + "/tracker.json"], check: false).status == 0)

        func scan(_ extra: [String]) async throws -> (status: Int32, document: [String: Any], errors: String) {
            let output = try await Tool.run(
                [Fixtures.fathomExecutable, "scan", "rootfs:\(root)", "--format", "json", "--store", store, "--exit-code", "4"] + extra, check: false)
            return (output.status, try JSONSerialization.jsonObject(with: output.stdout) as! [String: Any], output.errorText)
        }
        let plain = try await scan([])
        #expect(plain.status == 4, "the headers' finding fails the policy: \(plain.errors)")
        #expect((plain.document["vulnerabilities"] as? [[String: Any]])?.map { $0["package"] as! String } == ["linux-libc-dev"])
        #expect((plain.document["kernel"] as? [[String: Any]])?.map { $0["package"] as! String } == ["linux-image-6.1.0-13-amd64"])
        #expect((plain.document["warnings"] as? [String])?.contains { $0.contains("1 finding in kernel packages") } == true)
        #expect((plain.document["summary"] as? [String: Any])?["total"] as? Int == 1)

        let headersIgnored = try await scan(["--ignore-status", "fixed"])
        #expect(headersIgnored.status == 0, "only the kernel's finding is left, and it is not in the verdict: \(headersIgnored.errors)")

        let included = try await scan(["--include-kernel"])
        #expect(included.status == 4)
        #expect((included.document["vulnerabilities"] as? [[String: Any]])?.count == 2)
        #expect(included.document["kernel"] == nil)
        let table = try await Tool.run([Fixtures.fathomExecutable, "scan", "rootfs:\(root)", "--store", store], check: false)
        #expect(table.text.contains("Kernel packages (1; not in the verdict"), "\(table.text)")
    }
}
