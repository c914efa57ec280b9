import ArgumentParser
import FathomAdvisory
import FathomCore
import FathomSource
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomEngine
import FathomReport
import FathomStore
import Foundation
import Mustache

/// `fathom registry URL`: scan every image of a registry (or the repositories and tags the
/// globs select), sharing layers across images, and print a fleet summary.
struct RegistryScan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Scan every image in a registry.",
        discussion: """
            Walks the catalog and each repository's tags (or an OCI layout's index, for oci:DIR),
            scans every selected image once per distinct layer, keeps every scan in the store, and prints a fleet summary. One failing
            image never stops the fleet; the exit code is 1 when any image failed, and with --exit-code N it
            is N when any image keeps a finding the policy (the same flags as scan's) does not filter.
            """)

    @Argument(help: "The registry: host[:port], or http(s)://host[:port]; or oci:DIR, every image of an OCI layout.")
    var url: String

    @Option(name: .customLong("repo"), help: "Repositories to scan (shell glob, repeatable; default: all).")
    var repositories: [String] = []

    @Option(name: .customLong("tag"), help: "Tags to scan (shell glob, repeatable; default: all).")
    var tags: [String] = []

    @Option(help: "Only images pushed since then (30d, 12h, or an RFC 3339 time): push events, else the config's created time.")
    var pushedSince: String?

    @Option(help: "Only images pulled since then, per the pull events in the store (`fathom events import`).")
    var pulledSince: String?

    @Option(name: .shortAndLong, help: "table or json: the fleet summary's format and the reports' in --output; html: the fleet report (one self-contained page); sarif, cyclonedx, spdx or harbor: the reports' format in --output (the summary is a table).")
    var format: Scan.Format = .table

    @Option(name: .shortAndLong, help: "Write one report per image into this directory (in --format); with -f html, the fleet report's file.")
    var output: String?

    @Option(help: "Images in flight at once (default: 16 per core, at least 64).")
    var concurrency: Int?

    @Option(help: "Layers read at once across the fleet (default: two per core).")
    var layerConcurrency: Int?

    @Option(help: "Give up on one image after this long (30s, 10m): it fails, named, and the fleet goes on. Default: no limit.")
    var imageTimeout: String?

    @Option(help: "Platform to pick from multi-platform indexes (os/arch[/variant]).")
    var platform = "linux/amd64"

    @Option(help: "Images listed in the summary's top lists.")
    var top = 10

    @Flag(name: .shortAndLong, help: "No progress display.")
    var quiet = false

    @Option(help: "Warn when the advisory data was not updated for longer than this (30d, 12h, …).")
    var maxDbAge = "7d"

    @OptionGroup var registryOptions: RegistryOptions
    @OptionGroup var storeOption: StoreOption

    @OptionGroup var timeoutOption: TimeoutOption
    @OptionGroup var readLimits: ReadLimitOptions
    @OptionGroup var policyOptions: PolicyOptions

    @Option(help: "With --format template: a Mustache template over each report's JSON keys (FILE or @FILE).")
    var template: String?

    /// Whether every `[` of a shell glob has its `]` (fnmatch(3) matches nothing otherwise).
    static func isWellFormed(glob: String) -> Bool {
        var characters = glob.makeIterator()
        while let character = characters.next() {
            if character == "\\" {
                _ = characters.next()
            } else if character == "[" {
                // A `]` first in the set is one of its members, not its end.
                var first = true
                var closed = false
                while let inner = characters.next() {
                    if inner == "]" && !first { closed = true; break }
                    if !(first && (inner == "!" || inner == "^")) { first = false }
                }
                if !closed { return false }
            }
        }
        return true
    }

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let layerConcurrency, layerConcurrency < 1 { throw ValidationError("--layer-concurrency must be at least 1") }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        // A malformed glob matches nothing, and said so it read as a registry without the images.
        for (option, globs) in [("--repo", repositories), ("--tag", tags)] {
            for glob in globs where !Self.isWellFormed(glob: glob) {
                throw ValidationError("\(option) '\(glob)' is not a shell glob: a [ without its closing ]")
            }
        }
        // Checked here, not in run: a ValidationError from run came with the root command's usage.
        for value in [pushedSince, pulledSince, maxDbAge].compactMap({ $0 }) { _ = try parseSince(value) }
        if let imageTimeout, try WorkerOptions.interval(imageTimeout, option: "--image-timeout") == nil {
            throw ValidationError("--image-timeout takes a duration such as 30s or 10m")
        }
        if format == .template && template == nil { throw ValidationError("--format template needs --template FILE") }
        if template != nil && format != .template { throw ValidationError("--template is for --format template") }
        if ![.table, .json, .html].contains(format) && output == nil {
            throw ValidationError("--format \(format.rawValue) writes one report per image: give --output DIR (the fleet summary is a table, json or html)")
        }
        // `-o fleet.json` as Trivy's -o writes a file would make a directory of that name: said
        // before anything is scanned (the summary is standard output; `> fleet.json` keeps it).
        var isDirectory: ObjCBool = false
        if let output, !writesFleetHTML, !(FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) && isDirectory.boolValue),
            [".json", ".sarif", ".txt", ".xml", ".spdx", ".cdx", ".html", ".htm"].contains(where: { output.lowercased().hasSuffix($0) })
        {
            throw ValidationError(
                "--output \(output) names a file, and registry writes one report per image into the directory --output names; "
                    + "the fleet summary goes to standard output (redirect it to keep it), or -f html -o FILE writes the fleet report")
        }
    }

    /// `-f html`: the fleet report is the output (to --output FILE, else standard output).
    var writesFleetHTML: Bool { format == .html }

    func run() async throws {
        bootstrapLogging()
        let watchdog = try timeoutOption.start("registry \(url)")
        defer { watchdog?.cancel() }
        var host = url
        var options = registryOptions
        var plainHTTP = false
        for scheme in ["https://", "http://"] where host.hasPrefix(scheme) {
            host = String(host.dropFirst(scheme.count))
            plainHTTP = scheme == "http://"
        }
        while host.hasSuffix("/") { host.removeLast() }
        // `http://host:5000/` allows plain HTTP to the host, not to "host:5000/" (which matched nothing).
        if plainHTTP { options.insecureRegistry.append(host) }
        if !url.hasPrefix("oci:"), let slash = host.firstIndex(of: "/") {
            printError(
                "\(FathomError(.invalidInput, "'\(url)' is a registry and a path: give the registry alone (\(host[..<slash])) and pick repositories with --repo \(host[host.index(after: slash)...])"))")
            throw ExitCode(64)
        }
        let reportTemplate = try loadTemplate(template)
        let pushedCutoff = try pushedSince.map { try parseSince($0) }
        let pulledCutoff = try pulledSince.map { try parseSince($0) }
        let dataAge = (cutoff: try parseSince(maxDbAge), text: maxDbAge)
        let policy = try policyOptions.policy()
        let wanted = try Platform(parsing: platform)
        if let output, !writesFleetHTML {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                printError("\(FathomError(.io, "cannot make the report directory", path: output, cause: error))")
                throw ExitCode(1)
            }
        }

        // An OCI layout (a mirror exported with skopeo sync or oras) needs no registry client.
        let layout = url.hasPrefix("oci:") ? String(url.dropFirst(4)) : nil
        if let layout { host = "oci:" + layout }
        let client = layout == nil ? try options.makeClient(for: host, plainHTTP: plainHTTP ? [host] : []) : nil
        let store: any Store
        let session: ScanSession
        do {
            store = try await storeOption.open()
            let scanner = ImageScanner(
                platform: wanted, layerConcurrency: layerConcurrency ?? ImageScanner.defaultConcurrency(),
                cache: LayerCache(store: store), limits: try readLimits.limits())
            session = try await ScanSession.open(
                store: store, scanner: scanner, policy: policy, maxDataAge: dataAge,
                imageConcurrency: concurrency ?? FleetScanner.defaultImageConcurrency(),
                imageTimeout: try imageTimeout.flatMap { try WorkerOptions.interval($0, option: "--image-timeout") })
        } catch {
            try? await client?.shutdown()
            printError(FathomError.plain(error))
            throw ExitCode(1)
        }
        let fleet = session.fleet
        let filter = FleetPolicy(pushedSince: pushedCutoff, pulledSince: pulledCutoff).filter(events: store)
        let jobs: any AsyncSequence<FleetJob, any Error> =
            if let layout {
                LayoutListing(directory: layout, repositories: repositories, tags: tags)
            } else if let client {
                RegistryListing(registry: host, client: client, repositories: repositories, tags: tags, documents: store)
            } else {
                preconditionFailure("a registry fleet always has a client")
            }
        var summary = FleetSummary(source: host, advisoryVersion: fleet.advisoryVersion, top: top)
        summary.warnings += session.dataWarnings
        let display = ProgressDisplay(fleet.progress, quiet: quiet)
        let started = ContinuousClock.now
        var tally = FleetPolicyTally()
        var listedNames = Set<String>()
        do {
            try await fleet.run(jobs, filter: filter) { pipelineOutcome in
                let outcome = await policyOptions.session(session, for: pipelineOutcome, client: client).evaluate(pipelineOutcome)
                summary.add(outcome)
                tally.add(outcome)
                listedNames.insert(outcome.name)
                if let output, !writesFleetHTML {
                    switch outcome {
                    case .scanned(let result): try writeReport(result.report, into: output, template: reportTemplate)
                    // An earlier run's report of an image that failed now would be read as this run's.
                    case .failed(let name, _): removeReport(of: name, from: output)
                    default: break
                    }
                }
            }
        } catch {
            await display.stop()
            try? await client?.shutdown()
            try? await store.close()
            // The listing failed: a registry (or a layout) is not an image.
            printError("\(layout == nil ? "registry " : "")\(host): \(FathomError.wrapping(error))")
            throw ExitCode(1)
        }
        await display.stop()
        try await client?.shutdown()
        let trend = writesFleetHTML ? try await store.findingTrend() : []
        try await store.close()
        summary.warnings += policy.expiredRuleWarnings
        // Each --repo glob that selected nothing while others did (a typo beside good ones).
        if layout == nil, repositories.count > 1, !listedNames.isEmpty {
            let listed = Set(listedNames.compactMap { name -> String? in
                guard name.hasPrefix(host + "/") else { return nil }
                let path = name.dropFirst(host.count + 1)
                return String(path[..<(path.firstIndex(of: "@") ?? path.lastIndex(of: ":") ?? path.endIndex)])
            })
            for glob in repositories where !listed.contains(where: { RegistryListing.matches($0, anyOf: [glob]) }) {
                summary.warnings.append("--repo '\(glob)' selected no repository in \(host)")
            }
        }
        summary.warnings += tally.warnings(policy: policy, of: "any image")
        summary.finish(elapsed: ContinuousClock.now - started)
        switch format {
        case .json: FileHandle.standardOutput.write(Data(try summary.json().utf8))
        case .html:
            let page = FleetHTMLReport(summary: summary, trend: trend).render()
            if let output {
                do {
                    try Data(page.utf8).write(to: URL(fileURLWithPath: output))
                } catch {
                    printError("\(FathomError(.io, "cannot write the HTML report", path: output, cause: error))")
                    throw ExitCode(1)
                }
            } else {
                FileHandle.standardOutput.write(Data(page.utf8))
            }
        default: FileHandle.standardOutput.write(Data(summary.table().utf8))
        }
        // The table says what was not checked; a JSON or HTML summary read by a tool or a person
        // later would not say it where the run is watched.
        if format != .table && !quiet {
            for line in summary.notChecked { printWarning("\(host): not checked: \(line)") }
        }
        // An image that could not be scanned fails the run (1) before the gate's verdict: the
        // fleet was not all judged, and a pipeline that reads the policy's code as "findings,
        // here is the list" must not miss it (Trivy's error outranks its --exit-code too).
        if summary.images.failed > 0 { throw ExitCode(1) }
        // --exit-code: a finding that survives the policy in any image fails the run with its code.
        if summary.policyFailures.contains(where: { $0.kind == .fail }) { throw ExitCode(policy.exitCode) }
        if !summary.policyFailures.isEmpty { throw ExitCode(1) }
        // Nothing listed is not "0 scanned, all well": a typo in a glob must not pass.
        if summary.images.scanned + summary.images.skipped == 0 {
            let selection = (repositories.map { "--repo '\($0)'" } + tags.map { "--tag '\($0)'" }).joined(separator: " ")
            printError(
                selection.isEmpty
                    ? "\(host) lists no image: nothing was scanned" : "\(selection) selected no image in \(host): nothing was scanned")
            throw ExitCode(1)
        }
    }

    /// Where an image's report goes in the --output directory.
    func reportPath(of name: String, in directory: String) -> String {
        let fileName = name.map { "/:@".contains($0) ? "_" : $0 }.reduce(into: "") { $0.append($1) }
        return "\(directory)/\(fileName).\(format.fileExtension)"
    }

    /// Takes an earlier report of an image out of the --output directory (a regular file only).
    func removeReport(of name: String, from directory: String) {
        let path = reportPath(of: name, in: directory)
        guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            printWarning("\(FathomError(.io, "cannot remove the earlier report of an image that failed", image: name, path: path, cause: error))")
        }
    }

    func writeReport(_ report: ScanReport, into directory: String, template: MustacheTemplate?) throws {
        let name = report.artifact.name
        let text = try format.render(report, template: template)
        let path = reportPath(of: name, in: directory)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw FathomError(.io, "cannot write the report", image: name, path: path, cause: error)
        }
    }
}
