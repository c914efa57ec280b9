import ArgumentParser
import FathomAdvisory
import FathomCore
import FathomInventory
import FathomLayer
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomReport
import FathomStore
import Foundation
import Logging
import Mustache

/// `fathom scan REF`: scan one image.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan one image.",
        discussion: """
            REF is registry/repo:tag, registry/repo@sha256:…, oci:DIR[:tag], docker-archive:FILE[:repo:tag], or
            sbom:FILE (a CycloneDX or SPDX JSON SBOM another tool wrote: its purls are matched).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
        case sarif
        case cyclonedx
        case spdx
        case harbor
        case html
        case template

        /// The extension of a file in this format (`fathom registry --output DIR`).
        var fileExtension: String {
            switch self {
            case .table: "txt"
            case .json, .harbor: "json"
            case .sarif: "sarif"
            case .html: "html"
            case .template: "txt"
            case .cyclonedx: "cdx.json"
            case .spdx: "spdx.json"
            }
        }

        func render(_ report: ScanReport, template: MustacheTemplate? = nil, table: ScanReport.TableOptions = .init()) throws -> String {
            switch self {
            case .table: return report.table(table)
            case .json: return try report.json()
            case .sarif: return try report.sarif()
            case .cyclonedx: return try report.cycloneDX()
            case .spdx: return try report.spdx()
            case .harbor: return try report.harbor()
            case .html: return report.html()
            case .template:
                guard let template else { throw FathomError(.invalidInput, "--format template needs --template FILE") }
                return try report.rendered(with: template)
            }
        }

        static let names = allCases.map(\.rawValue).joined(separator: ", ")
    }

    @Argument(help: "The image to scan.")
    var reference: String

    @Option(name: .shortAndLong, help: "Output format: table, json, sarif (SARIF 2.1.0), cyclonedx (CycloneDX 1.5), spdx (SPDX 2.3), harbor (Harbor's report 1.1), html (one self-contained page) or template (--template).")
    var format: Format = .table

    @Option(help: "Platform to scan (os/arch[/variant]): picked from a multi-platform index; a single-platform image of another platform is an error. Default: linux/amd64 from an index, else the image as it is.")
    var platform: String?

    @Option(help: "Layers read at once (default: two per core).")
    var layerConcurrency: Int?

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @OptionGroup var registryOptions: RegistryOptions

    @OptionGroup var storeOption: StoreOption

    @OptionGroup var timeoutOption: TimeoutOption
    @OptionGroup var readLimits: ReadLimitOptions

    @Option(help: "Report only these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN).")
    var severity: String?

    @Flag(help: "Leave out findings that have no fixed version yet.")
    var ignoreUnfixed = false

    @Flag(inversion: .prefixedNo, help: "List every package: in the table (with the layers; off by default), in the other formats (on by default).")
    var listAllPkgs: Bool?

    @Option(help: "Leave out packages read from files under directories matching this glob (repeatable; e.g. 'usr/local/lib/node_modules', '*/tests').")
    var skipDirs: [String] = []

    @Option(help: "Leave out packages read from files matching this glob (repeatable; e.g. '*/requirements-dev.txt').")
    var skipFiles: [String] = []

    @Flag(name: .shortAndLong, help: "Only the report and errors: no warnings logged on standard error.")
    var quiet = false

    @Flag(help: "Show the suppressed findings (ignore file, VEX) and why, in the table.")
    var showSuppressed = false

    @Option(help: "Exit with this code when any finding survives the filters.")
    var exitCode: Int32 = 0

    @Flag(help: "Give a verdict (--exit-code) even when the image's OS or a language ecosystem it holds has no advisory data.")
    var allowMissingData = false

    @Option(help: "Warn when the advisory data was not updated for longer than this (30d, 12h, …).")
    var maxDbAge = "7d"

    @Option(help: "Ignore file: `ID [pkg:NAME] [exp:YYYY-MM-DD]` per line (default: ./.fathomignore if present).")
    var ignoreFile: String?

    @Option(help: "OpenVEX document whose not_affected/fixed statements suppress findings (repeatable).")
    var vex: [String] = []

    @Option(help: "With --format template: a Mustache template over the JSON document's keys (FILE or @FILE).")
    var template: String?

    @Option(help: "With sbom:FILE, the OS as ID:VERSION (debian:12, alpine:3.20) when the SBOM names none or the wrong one.")
    var os: String?

    func validate() throws {
        guard (0...255).contains(exitCode) else { throw ValidationError("--exit-code must be 0 to 255 (a process exit status), not \(exitCode)") }
        if let layerConcurrency, layerConcurrency < 1 { throw ValidationError("--layer-concurrency must be at least 1") }
        if format == .template && template == nil { throw ValidationError("--format template needs --template FILE") }
        if template != nil && format != .template { throw ValidationError("--template is for --format template") }
    }

    func run() async throws {
        bootstrapLogging(quiet: quiet)
        let watchdog = try timeoutOption.start("image \(reference)")
        defer { watchdog?.cancel() }
        let reportTemplate = try loadTemplate(template)
        if reference.hasPrefix("sbom:") {
            return try await scanSBOM(path: String(reference.dropFirst("sbom:".count)), template: reportTemplate)
        }
        let source: SourceReference
        let wanted: Platform
        let policy: FindingPolicy
        let dataCutoff: Date
        do {
            source = try SourceReference(parsing: reference)
            wanted = try Platform(parsing: platform ?? "linux/amd64")
            policy = try makePolicy()
            dataCutoff = try parseSince(maxDbAge)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        var client: RegistryClient?
        do {
            let opened = try source.open(client: {
                var host: String?
                if case .registry(let reference) = source { host = reference.registry }
                let made = try registryOptions.makeClient(for: host)
                client = made
                return made
            }())
            // The store is the layer cache and the history: a known layer is not read again, and
            // the report says what changed since the previous scan of this name.
            // An asked-for platform a single-platform image does not have is an error, not a scan of another.
            if platform != nil, let has = try await opened.resolve(platform: wanted).platform, !wanted.matches(has) {
                throw FathomError(
                    .noMatchingPlatform, "the image is \(has) only (one manifest, no index); --platform \(wanted) is not in it",
                    image: opened.displayName)
            }
            let store = try await storeOption.open()
            let scanner = ImageScanner(
                platform: wanted, layerConcurrency: layerConcurrency ?? ImageScanner.defaultConcurrency(),
                cache: LayerCache(store: store), limits: try readLimits.limits())
            let fleet = try await FleetScanner(scanner: scanner, store: store, index: try await store.advisories())
            let outcome = await fleet.scan(FleetJob(name: opened.displayName, source: opened))
            if let client { try await client.shutdown() }
            client = nil
            try await fleet.flush()
            let stale =
                fleet.index.recordCount > 0
                ? try await store.advisoryStatistics().staleWarning(olderThan: dataCutoff, maxAge: maxDbAge) : nil
            try await store.close()
            guard case .scanned(let scanned) = outcome, let scannedResult = scanned.result else {
                if case .failed(_, let error) = outcome { throw error }
                throw FathomError(.invalidInput, "the image was not scanned")
            }
            // --skip-dirs/--skip-files shape the report and the verdict; the store keeps the whole inventory.
            var result = scannedResult
            let skips = PathSkips(directories: skipDirs, files: skipFiles)
            let before = result.packages.count
            let unmatchedSkips = skips.unmatched(in: result.packages.map(\.package.path))
            result.packages.removeAll { skips.skips($0.package.path) }
            let (kept, suppressed, filtered) = policy.apply(scanned.findings.filter { !skips.skips($0.path) })
            var report = ScanReport(
                result, findings: kept, suppressed: suppressed, advisoriesLoaded: fleet.index.recordCount > 0, changes: scanned.changes,
                coverage: scanned.coverage)
            if let warning = filtered.warning { report.warnings.append(warning) }
            if let stale { report.warnings.append(stale) }
            if before > result.packages.count {
                report.warnings.append("--skip-dirs/--skip-files left out \(before - result.packages.count) of \(before) packages")
            }
            for pattern in unmatchedSkips { report.warnings.append("\(pattern) matched no file a package was read from") }
            try write(try render(report, template: reportTemplate))
            if exitCode != 0 && !kept.isEmpty { throw ExitCode(exitCode) }
            // A verdict was asked for: "nothing found" is not one when nothing was checked.
            if exitCode != 0 && !allowMissingData {
                let gaps = fleet.index.recordCount == 0 ? ["the store holds no advisories (fathom db import)"] : scanned.coverage.warnings
                if !gaps.isEmpty {
                    printError(
                        "\(opened.displayName): no verdict: \(gaps.joined(separator: "; ")) (--allow-missing-data accepts a clean report anyway)")
                    throw ExitCode(1)
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            if let client { try? await client.shutdown() }
            client = nil
            printError("\(FathomError.wrapping(error, image: reference))")
            throw ExitCode(1)
        }
    }

    /// Matches the packages an SBOM lists (nothing is cached: the SBOM is the inventory).
    private func scanSBOM(path: String, template reportTemplate: MustacheTemplate?) async throws {
        do {
            let policy = try makePolicy()
            let dataCutoff = try parseSince(maxDbAge)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FathomError(.io, "cannot read the SBOM (no such file, or not readable)", path: path)
            }
            let bytes = [UInt8](data)
            let sbom = try SBOMInventory.read(bytes, path: path, os: os)
            let store = try await storeOption.open()
            let index = try await store.advisories()
            let entries = sbom.packages.map { InventoryEntry(package: $0, layer: 0) }
            let findings = try await ImageMatcher.findings(entries, osNamespace: sbom.os?.namespace, lookup: index)
            let coverage = Coverage(entries, osNamespace: sbom.os?.namespace, lookup: index)
            let stale = index.recordCount > 0 ? try await store.advisoryStatistics().staleWarning(olderThan: dataCutoff, maxAge: maxDbAge) : nil
            try await store.close()
            let (kept, suppressed, filtered) = policy.apply(findings)
            var digest = DigestHasher()
            digest.update(bytes)
            var report = ScanReport(
                sbom: sbom, name: reference, digest: digest.finalize(), size: Int64(bytes.count), findings: kept, suppressed: suppressed,
                advisoriesLoaded: index.recordCount > 0, coverage: coverage)
            if let warning = filtered.warning { report.warnings.append(warning) }
            if let stale { report.warnings.append(stale) }
            if sbom.os == nil && sbom.packages.contains(where: { ["deb", "apk", "rpm"].contains($0.ecosystem) }) {
                report.warnings.append("\(path): the SBOM names no OS: its OS packages were not checked (give --os ID:VERSION)")
            }
            try write(try render(report, template: reportTemplate))
            if exitCode != 0 && !kept.isEmpty { throw ExitCode(exitCode) }
            if exitCode != 0 && !allowMissingData {
                let gaps = index.recordCount == 0 ? ["the store holds no advisories (fathom db import)"] : coverage.warnings
                if !gaps.isEmpty {
                    printError("\(reference): no verdict: \(gaps.joined(separator: "; ")) (--allow-missing-data accepts a clean report anyway)")
                    throw ExitCode(1)
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("\(FathomError.wrapping(error, image: reference))")
            throw ExitCode(1)
        }
    }

    private func makePolicy() throws -> FindingPolicy {
        var policy = FindingPolicy()
        if let severity {
            var wanted = Set<Severity>()
            for word in severity.split(separator: ",") {
                guard let parsed = Severity(rawValue: word.trimmingCharacters(in: .whitespaces).uppercased()) else {
                    throw FathomError(.invalidInput, "unknown severity '\(word)': use CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")
                }
                wanted.insert(parsed)
            }
            policy.severities = wanted
        }
        policy.ignoreUnfixed = ignoreUnfixed
        let ignorePath = ignoreFile ?? (FileManager.default.fileExists(atPath: ".fathomignore") ? ".fathomignore" : nil)
        if let ignorePath {
            guard let data = FileManager.default.contents(atPath: ignorePath) else {
                throw FathomError(.io, "cannot read the ignore file", path: ignorePath)
            }
            policy.ignoreRules = try FindingPolicy.ignoreRules(String(decoding: data, as: UTF8.self), file: ignorePath)
        }
        for path in vex {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FathomError(.io, "cannot read the VEX document", path: path)
            }
            policy.vex += try FindingPolicy.vexStatements([UInt8](data), file: path)
        }
        return policy
    }

    /// The report in --format, with the table's options and --list-all-pkgs applied.
    private func render(_ report: ScanReport, template: MustacheTemplate?) throws -> String {
        var report = report
        if format != .table && listAllPkgs == false { report.packages = [] }
        let options = ScanReport.TableOptions(
            listAllPackages: listAllPkgs ?? false, showSuppressed: showSuppressed, colour: output == nil && Terminal.wantsColour,
            width: output == nil ? Terminal.width : nil)
        return try format.render(report, template: template, table: options)
    }

    private func write(_ text: String) throws {
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
