import FathomTestSupport
import Foundation
import Testing

/// `scripts/check-architecture` holds the layout to the engine: it passes on this checkout and
/// fails on a copy broken on purpose (a second place that makes a report; a report module that
/// reaches the HTTP stack), so the check can fail.
@Suite(.timeLimit(.minutes(3))) struct ArchitectureTests {
    static let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/check-architecture").path

    /// A copy of the manifest and the sources, changed by `edit`; the script's verdict on it.
    static func check(_ edit: (String) throws -> Void) async throws -> ProcessOutput {
        let copy = try Fixtures.temporaryDirectory("architecture")
        try await Tool.run(["cp", "-r", Fixtures.repositoryRoot.appendingPathComponent("Sources").path, copy + "/Sources"])
        try await Tool.run(["cp", Fixtures.repositoryRoot.appendingPathComponent("Package.swift").path, copy + "/Package.swift"])
        try await Tool.run(["cp", "-r", Fixtures.repositoryRoot.appendingPathComponent("Tests").path, copy + "/Tests"])
        try edit(copy)
        var environment = ProcessInfo.processInfo.environment
        environment["FATHOM_ARCHITECTURE_ROOT"] = copy
        return try await Tool.run(["python3", script], environment: environment, check: false)
    }

    /// On an unchanged copy (this checkout's own .build is locked while the tests run).
    @Test func theCheckPassesAsTheCodeIs() async throws {
        let output = try await Self.check { _ in }
        #expect(output.status == 0, "\(output.text)\(output.errorText)")
        #expect(output.text.contains("ok: only FathomEngine makes a ScanReport"))
    }

    @Test func aSecondPlaceThatMakesAReportFailsIt() async throws {
        let output = try await Self.check { copy in
            let file = copy + "/Sources/fathom/Scan.swift"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try (text + "\nfunc bypass(_ read: ScanReport.ReadImage) -> ScanReport { ScanReport(read, advisoriesLoaded: true) }\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
        }
        #expect(output.status == 1)
        #expect(output.errorText.contains("ScanReport is made outside FathomEngine") && output.errorText.contains("Sources/fathom/Scan.swift"))
    }

    @Test func aReportModuleThatReachesTheHTTPStackFailsIt() async throws {
        let output = try await Self.check { copy in
            let file = copy + "/Package.swift"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let broken = text.replacingOccurrences(
                of: #""FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory", "FathomStore",\#n                .product(name: "Mustache""#,
                with: #""FathomCore", "FathomOCI", "FathomArchive", "FathomInventory", "FathomAdvisory", "FathomStore", "FathomPipeline",\#n                .product(name: "Mustache""#)
            #expect(broken != text)
            try broken.write(toFile: file, atomically: true, encoding: .utf8)
        }
        #expect(output.status == 1)
        #expect(output.errorText.contains("FathomReport reaches"))
    }
}
