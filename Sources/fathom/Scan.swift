import ArgumentParser
import FathomAdvisory
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomEngine
import FathomReport
import FathomStore
import FathomStores
import Foundation
import Logging
import Mustache

/// `fathom scan REF`: scan one image.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan one image.",
        discussion: """
            REF is registry/repo:tag, registry/repo@sha256:… (or docker://…), oci:DIR[:tag] (an OCI image layout),
            oci-archive:FILE[:tag] (one in a tar), docker-archive:FILE[:repo:tag] (a `docker save` tar), dir:DIR
            (skopeo's dir: format), rootfs:DIR (an unpacked root file system), or sbom:FILE (a CycloneDX or SPDX
            JSON SBOM another tool wrote: its purls are matched).
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

        /// The template's unknown names said so far in this run: a fleet says each once, not per image.
        static let saidUnknown = Locked<Set<String>>([])

        func render(
            _ report: ScanReport, template: MustacheTemplate? = nil, table: ScanReport.TableOptions = .init(), warnings: Bool = true
        ) throws -> String {
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
                let (text, unknown) = try report.rendering(with: template)
                // Mustache renders a name nothing has as nothing: a misspelled key gave a blank report.
                let fresh = Self.saidUnknown.withLock { said in unknown.filter { said.insert($0).inserted } }
                if warnings, !fresh.isEmpty {
                    printWarning(
                        "the template asks for \(fresh.map { "'\($0)'" }.joined(separator: ", ")), which the report has no key for "
                            + "(rendered as nothing; -f json shows its keys)")
                }
                return text
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

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output (- is standard output).")
    var output: String?

    @OptionGroup var registryOptions: RegistryOptions

    @OptionGroup var storeOption: StoreOption

    @OptionGroup var timeoutOption: TimeoutOption
    @OptionGroup var readLimits: ReadLimitOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Flag(
        inversion: .prefixedNo,
        help: "List every package: in the table (with the layers; off by default), in json and template (on by default). The other formats (cyclonedx, spdx, sarif, harbor, html) always list every package: their findings point at them.")
    var listAllPkgs: Bool?

    @Flag(name: .shortAndLong, help: "Only the report and errors: no warnings logged on standard error.")
    var quiet = false

    @Flag(help: "Show the suppressed findings (ignore file, VEX) and why, in the table.")
    var showSuppressed = false

    @Option(help: "Warn when the advisory data was not updated for longer than this (30d, 12h, …).")
    var maxDbAge = "7d"

    @Option(help: "With --format template: a Mustache template over the JSON document's keys (FILE or @FILE).")
    var template: String?

    @Option(help: "With sbom:FILE, the OS as ID:VERSION (debian:12, alpine:3.20) when the SBOM names none or the wrong one.")
    var os: String?

    mutating func validate() throws {
        // `-o -` is standard output, as curl and Trivy take it (not a file named `-`).
        if output == "-" { output = nil }
        if let layerConcurrency, layerConcurrency < 1 { throw ValidationError("--layer-concurrency must be at least 1") }
        _ = try parseSince(maxDbAge)
        // Said before the scan, not after it (and after its history was written).
        if let output {
            let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--output \(output): no directory \(folder) to write the report in")
            }
            if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), isFolder.boolValue {
                throw ValidationError("--output \(output) is a directory: name a file in it (\(output)/report.\(format.fileExtension))")
            }
        }
        if format == .template && template == nil { throw ValidationError("--format template needs --template FILE") }
        if template != nil && format != .template { throw ValidationError("--template is for --format template") }
        if let os {
            do { _ = try SBOMInventory.osRelease(override: os) } catch let error as FathomError { throw ValidationError(error.message) }
        }
    }

    /// Set once the report is written: an exit after it (the verdict's code) keeps it.
    private static let reportWritten = Locked(false)

    func run() async throws {
        bootstrapLogging(quiet: quiet)
        // A scan that fails, however (an error, an unreadable ignore file, --timeout), leaves no earlier
        // scan's report at --output for a pipeline to take for this one's.
        let discard: @Sendable () -> Void = { [output, inputs] in Self.discardEarlierOutput(output, inputs: inputs) }
        // A timeout after the report was written (during the verdict) keeps it.
        let watchdog = try timeoutOption.start("image \(reference)", onExpiry: { if !Self.reportWritten.withLock({ $0 }) { discard() } })
        defer { watchdog?.cancel() }
        do {
            try await scanAndReport()
        } catch {
            if !Self.reportWritten.withLock({ $0 }) { discard() }
            throw error
        }
    }

    /// The files this scan reads, which --output never removes (`sbom:x.json -o x.json`).
    private var inputs: [String] {
        var paths = [storeOption.store ?? defaultStoreLocation(), policyOptions.ignoreFile, registryOptions.caFile].compactMap { $0 }
            + policyOptions.vex + [".fathomignore", ".trivyignore"]
        if let template { paths.append(template.hasPrefix("@") ? String(template.dropFirst()) : template) }
        // A local source's path, with or without what follows each colon (`img.tar:repo:tag`).
        if let colon = reference.firstIndex(of: ":"), ["sbom", "oci", "oci-archive", "docker-archive", "dir", "rootfs"].contains(String(reference[..<colon])) {
            let path = reference[reference.index(after: colon)...]
            paths += [String(path)] + path.indices.filter { path[$0] == ":" }.map { String(path[..<$0]) }
        }
        return paths.map { $0.hasPrefix("sqlite://") ? String($0.dropFirst(9)) : $0.hasPrefix("sqlite:") ? String($0.dropFirst(7)) : $0 }
    }

    private func scanAndReport() async throws {
        let reportTemplate = try loadTemplate(template)
        var policy = try policyOptions.policy()
        // One image: its report names the rules that suppressed nothing in it.
        policy.notesUnusedRules = true
        let dataAge = (cutoff: try parseSince(maxDbAge), text: maxDbAge)
        // An image says its own OS (its os-release). Said, not refused: FATHOM_OS or a config
        // file may set it for the SBOMs scanned with the same settings.
        if os != nil && !reference.hasPrefix("sbom:") { printWarning("--os is for sbom:FILE: an image's OS is read from the image, --os is not used") }
        if reference.hasPrefix("sbom:") {
            return try await scanSBOM(path: String(reference.dropFirst("sbom:".count)), policy: policy, dataAge: dataAge, template: reportTemplate)
        }
        let source: SourceReference
        let wanted: Platform
        do {
            source = try SourceReference(parsing: reference)
            wanted = try Platform(parsing: platform ?? "linux/amd64")
        } catch {
            printError(FathomError.plain(error))
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
            // An asked-for platform a single-platform image does not have is an error, not a scan of another.
            if platform != nil, let has = try await opened.resolve(platform: wanted).platform, !wanted.matches(has) {
                throw FathomError(
                    .noMatchingPlatform, "the image is \(has) only (one manifest, no index); --platform \(wanted) is not in it",
                    image: opened.displayName)
            }
            // The store is the layer cache and the history: a known layer is not read again, and
            // the report says what changed since the previous scan of this name.
            let store = try await storeOption.open()
            let scanner = ImageScanner(
                platform: wanted, layerConcurrency: layerConcurrency ?? ImageScanner.defaultConcurrency(),
                cache: LayerCache(store: store), limits: try readLimits.limits())
            let session = try await ScanSession.open(store: store, scanner: scanner, policy: policy, maxDataAge: dataAge)
            let scanned = await session.fleet.scan(FleetJob(name: opened.displayName, source: opened))
            let outcome = await policyOptions.session(session, for: scanned, client: client).evaluate(scanned)
            if let client { try await client.shutdown() }
            client = nil
            try await session.fleet.flush()
            try await store.close()
            guard case .scanned(let result) = outcome else {
                if case .failed(_, let error) = outcome { throw error }
                throw FathomError(.invalidInput, "the image was not scanned")
            }
            warnUnchecked(result.report, name: opened.displayName)
            try write(try render(result.report, template: reportTemplate))
            try conclude(result.verdict, name: opened.displayName)
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
    private func scanSBOM(
        path: String, policy: ScanPolicy, dataAge: (cutoff: Date, text: String), template reportTemplate: MustacheTemplate?
    ) async throws {
        do {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw FathomError(.invalidInput, "is a directory: sbom: takes a CycloneDX or SPDX JSON file", path: path)
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FathomError(.io, "cannot read the SBOM (no such file, or not readable)", path: path)
            }
            let bytes = [UInt8](data)
            let sbom = try SBOMInventory.read(bytes, path: path, os: os)
            let store = try await storeOption.open()
            let session = try await ScanSession.open(
                store: store, scanner: ImageScanner(cache: LayerCache(store: store)), policy: policy, maxDataAge: dataAge)
            let result = try await session.result(sbom: sbom, name: reference, bytes: bytes)
            try await store.close()
            warnUnchecked(result.report, name: reference)
            try write(try render(result.report, template: reportTemplate))
            try conclude(result.verdict, name: reference)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("\(FathomError.wrapping(error, image: reference))")
            throw ExitCode(1)
        }
    }

    /// What was not checked, on standard error, unless the table on the terminal shows it
    /// beside its counts: a JSON, SARIF or SBOM document read by a tool shows no finding either way.
    private func warnUnchecked(_ report: ScanReport, name: String) {
        guard !quiet, format != .table || output != nil else { return }
        for warning in report.uncheckedWarnings { printWarning("\(name): not checked: \(warning)") }
    }

    /// Exits as the verdict asks: the policy's code when a finding survives it; 1 with the
    /// reason when a verdict was asked for and missing data forbids a clean one.
    private func conclude(_ verdict: ScanVerdict, name: String) throws {
        switch verdict.kind {
        case .fail: throw ExitCode(verdict.exitCode)
        case .noVerdict:
            printError("\(name): no verdict: \(verdict.gaps.joined(separator: "; ")) (--allow-missing-data accepts a clean report anyway)")
            throw ExitCode(1)
        case .pass, .notAsked: return
        }
    }

    /// The report in --format, with the table's options and --list-all-pkgs applied.
    private func render(_ report: ScanReport, template: MustacheTemplate?) throws -> String {
        var report = report
        // Only where findings stand alone: CycloneDX's and SPDX's findings point at the
        // packages listed (without them, 0 findings and `affects: []`, valid and wrong).
        if [.json, .template].contains(format) && listAllPkgs == false { report.packages = [] }
        let options = ScanReport.TableOptions(
            listAllPackages: listAllPkgs ?? false, showSuppressed: showSuppressed, colour: output == nil && Terminal.wantsColour,
            width: output == nil ? Terminal.width : nil)
        return try format.render(report, template: template, table: options, warnings: !quiet)
    }

    /// A scan that failed leaves no earlier scan's report at --output: a pipeline that reads the
    /// file after a failed step must not take an older image's findings for this one's. Only a
    /// regular file is removed (`-o /dev/stdout` is not; through a link, its target), never one
    /// the scan reads.
    private static func discardEarlierOutput(_ output: String?, inputs: [String]) {
        guard let output else { return }
        let real = URL(fileURLWithPath: output).resolvingSymlinksInPath().path
        guard !inputs.contains(where: { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == real }),
            FileManager.default.fileExists(atPath: real),
            (try? FileManager.default.attributesOfItem(atPath: real)[.type] as? FileAttributeType) == .typeRegular
        else { return }
        do {
            try FileManager.default.removeItem(atPath: real)
            printNote("removed \(output), an earlier scan's report, so that it is not read as this one's")
        } catch {
            printWarning("\(output) holds an earlier scan's report and could not be removed: \(error.localizedDescription)")
        }
    }

    private func write(_ text: String) throws {
        if let output {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output))
                Self.reportWritten.withLock { $0 = true }
            } catch {
                throw FathomError(.io, "cannot write the report", path: output, cause: error)
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
