import ArgumentParser
import AsyncHTTPClient
import FathomAdvisory
import FathomCore
import FathomFeeds
import FathomOCI
import FathomRegistry
import FathomServer
import FathomStore
import FathomStores
import Foundation

/// `fathom db import|stats`: the advisory data in the store.
struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Import advisory feeds and show what the store holds.",
        subcommands: [Update.self, Feeds.self, Status.self, Push.self, Pull.self, Import.self, Stats.self, Prune.self])

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish the store's advisory data to a registry as an OCI artifact (REGISTRY/REPO:TAG).")

        @Argument(help: "Where to publish: registry/repository:tag.")
        var reference: String

        @OptionGroup var registryOptions: RegistryOptions
        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            try await withArtifact(reference, registryOptions, storeOption, creates: false) { target, store, client in
                let summary = try await AdvisoryArtifact.push(from: store, to: target, client: client)
                for source in summary.sources { print("\(source.name): \(source.contents)") }
                print("pushed \(target) (\(summary.manifestDigest))")
            }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import advisory data published with `db push` (REGISTRY/REPO:TAG or @sha256:…).")

        @Argument(help: "What to import: registry/repository:tag or registry/repository@sha256:….")
        var reference: String

        @OptionGroup var registryOptions: RegistryOptions
        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            try await withArtifact(reference, registryOptions, storeOption, creates: true) { source, store, client in
                let summary = try await AdvisoryArtifact.pull(into: store, from: source, client: client)
                for entry in summary.sources {
                    print(
                        "\(entry.name): \(entry.contents) " + (summary.unchanged.contains(entry.name) ? "unchanged" : "imported")
                            + (summary.updated[entry.name].map { " (updated \(ISO8601DateFormatter().string(from: $0)) where it was pushed)" } ?? ""))
                }
                print("pulled \(source) (\(summary.manifestDigest))")
            }
        }
    }

    /// Runs `body` with the artifact's reference, the store and a client for its registry;
    /// closes both however `body` ends, and turns a failure into one error line and exit 1.
    static func withArtifact(
        _ reference: String, _ registryOptions: RegistryOptions, _ storeOption: StoreOption, creates: Bool,
        _ body: (ImageReference, any Store, RegistryClient) async throws -> Void
    ) async throws {
        let parsed = try ImageReference(parsing: reference)
        // Pulled into a new store without a word; pushed from one, said (a mistyped --store).
        let store = try await storeOption.open(creates: creates)
        let client = try registryOptions.makeClient(for: parsed.registry)
        do {
            try await body(parsed, store, client)
        } catch {
            try? await client.shutdown()
            try? await store.close()
            printError("\(FathomError.wrapping(error, image: reference))")
            throw ExitCode(1)
        }
        try await client.shutdown()
        try await store.close()
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per feed: records, when it was imported and last checked, and its upstream date.")

        @Option(help: "Warn about feeds not updated for longer than this (30d, 12h, …).")
        var maxDbAge = "7d"

        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            let cutoff = try parseSince(maxDbAge)
            let store = try await storeOption.open(forReading: true)
            let feeds = try await store.advisoryFeeds()
            try await store.close()
            guard !feeds.isEmpty else {
                printError("the store holds no advisories: fathom db update (or db import PATH)")
                throw ExitCode(1)
            }
            let formatter = ISO8601DateFormatter()
            let columns = [max(32, (feeds.map(\.source.count).max() ?? 0) + 2), 10, 22, 22, 31]
            func row(_ cells: [String]) -> String {
                zip(cells, columns + [0]).map { $0.1 == 0 ? $0.0 : $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined()
            }
            print(row(["FEED", "RECORDS", "IMPORTED", "CHECKED", "UPSTREAM MODIFIED", "URL"]))
            for feed in feeds {
                print(
                    row([
                        feed.source, "\(feed.records)", feed.importedAt, feed.checkedAt.map(formatter.string) ?? "never (file import)",
                        feed.upstreamModified ?? "-", feed.url ?? "-",
                    ]))
            }
            if let warning = feeds.staleWarning(olderThan: cutoff, maxAge: maxDbAge) {
                printWarning(warning)
            }
        }
    }

    /// `--feeds FILE` and `--mirror URL`: which feeds `update` and `feeds` mean.
    struct FeedOptions: ParsableArguments {
        @Option(help: "A feeds file (YAML or JSON: feeds: [{name, url}]) instead of the built-in list.")
        var feeds: String?

        @Option(help: "A mirror keeping each upstream's layout under its host name (MIRROR/HOST/PATH).")
        var mirror: String?

        @Option(name: .customLong("feed"), help: "Only the feeds with this name (repeatable).")
        var only: [String] = []

        // A mistyped --feed of the built-in list is said with the subcommand's usage, before
        // anything runs (a feeds file is read, and checked, when the command runs).
        func validate() throws {
            if feeds == nil { _ = try resolve() }
        }

        func resolve() throws -> [Feed] {
            var list = try feeds.map(FeedList.load) ?? FeedList.defaults
            if let mirror { list = FeedList.mirrored(list, through: mirror) }
            guard !only.isEmpty else { return list }
            let unknown = only.filter { name in !list.contains { $0.name == name } }
            guard unknown.isEmpty else {
                throw ValidationError("no feed named \(unknown.joined(separator: ", ")) (fathom db feeds lists them)")
            }
            return list.filter { only.contains($0.name) }
        }
    }

    struct Feeds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the feeds `db update` fetches, and where from.")

        @OptionGroup var feedOptions: FeedOptions

        func run() async throws {
            for feed in try feedOptions.resolve() {
                print(feed.name.padding(toLength: 32, withPad: " ", startingAt: 0) + feed.url)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch every feed and import what changed.",
            discussion: """
                An unchanged feed costs one conditional request. A feed that fails to download or
                parse keeps its previous advisories and is reported; the exit code is then 1.
                """)

        @OptionGroup var feedOptions: FeedOptions
        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            let feeds = try feedOptions.resolve()
            let store = try await storeOption.open(creates: true)
            let http = FeedUpdater.makeHTTPClient()
            let updater = FeedUpdater(store: store, http: http)
            var failed = 0
            for (number, feed) in feeds.enumerated() {
                let report = await updater.update(feed)
                for note in report.notes.prefix(5) { printNote(note) }
                for warning in report.warnings.prefix(20) { printWarning(warning) }
                let position = "[\(number + 1)/\(feeds.count)] \(feed.name): "
                switch report.outcome {
                case .imported(let result):
                    let size = String(format: "%.1f MB", Double(report.bytes) / 1_000_000)
                    let unread = report.unread > 0 ? ", \(report.unread) document\(report.unread == 1 ? "" : "s") could not be read" : ""
                    print(position + result.contents + (result.changed ? " imported" : " unchanged") + " (\(size) downloaded\(unread))")
                case .notModified:
                    print(position + "not modified")
                case .failed(let error):
                    failed += 1
                    print(position + "failed, previous advisories kept")
                    printError("\(feed.name): \(error)")
                }
            }
            try await http.shutdown()
            try await store.close()
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import OSV (JSON/YAML files, directories, .zip, .tar.gz), Alpine secdb or Debian tracker JSON.")

        @Argument(help: "Feed files or directories.")
        var paths: [String]

        @Option(help: "Name the feed (default: one feed per path, named from it); with several paths, they are one feed. Re-importing a name replaces its advisories.")
        var source: String?

        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            let store = try await storeOption.open(creates: true)
            var failed = false
            // One feed per path, or, under --source, one feed of every path: importing each
            // under the one name replaced the one before (main's advisories lost to community's).
            let feeds: [(name: String, paths: [String])] =
                source.map { [($0, paths)] } ?? paths.flatMap(Self.secdbFiles).map { (Self.sourceName(for: $0), [$0]) }
            for (name, paths) in feeds {
                let path = paths.joined(separator: ", ")
                do {
                    var contents = FeedContents()
                    for path in paths {
                        do {
                            contents.add(try await FeedReader.read(path))
                        } catch {
                            // A feed is imported whole or not at all: part of it would replace all of it.
                            throw FathomError.wrapping(error).with(path: path)
                        }
                    }
                    func say(_ kind: String, _ lines: [String], more: String) {
                        for line in lines.prefix(20) { FileHandle.standardError.write(Data("fathom: \(kind): \(line)\n".utf8)) }
                        if lines.count > 20 {
                            FileHandle.standardError.write(Data("fathom: \(kind): … and \(lines.count - 20) more \(more)\n".utf8))
                        }
                    }
                    say("note", contents.notes, more: "notes")
                    say("warning", contents.warnings, more: "documents that could not be read")
                    guard contents.documents > 0 else {
                        throw FathomError(
                            .invalidInput,
                            contents.warnings.isEmpty
                                ? "no advisory documents found" : "not an advisory feed (OSV, CSAF 2.0, Alpine secdb, Wolfi advisory YAML, Debian tracker, NVD CVE 2.0, CISA KEV or EPSS)",
                            path: path)
                    }
                    // A name is the feed: another folder of the same name (two `wolfi/`s) replaces
                    // it whole, so the replacement is said with what it replaced.
                    let previous = try await store.advisoryFeeds().first { $0.source == name }
                    // A name reused for data of another kind (a KEV catalog under an advisory
                    // feed's --source) replaces the advisories with none: the count alone hid it.
                    let lostAdvisories = previous != nil && contents.records.isEmpty ? try await store.advisoryDocuments(source: name).count : 0
                    let result = try await store.importAdvisories(
                        contents.records, scores: contents.scores, exploitation: contents.exploitation, source: name, now: Date())
                    let unread = contents.warnings.count
                    print(
                        "\(name): \(result.contents)" + (result.changed ? " imported" : " unchanged")
                            + (unread > 0 ? " (\(unread) document\(unread == 1 ? "" : "s") could not be read)" : ""))
                    // A CSAF document of another product (OpenShift) or of a track an image does
                    // not run (RHEL AUS) keeps no package: imported, it still looked like coverage.
                    let inert = contents.records.filter { ($0.affected ?? []).isEmpty }.count
                    if inert > 0 {
                        let all = inert == contents.records.count
                        let said = "\(name): "
                            + (all ? (inert == 1 ? "its one advisory names no package" : "none of its \(inert) advisories names a package")
                                : "\(inert) of its \(contents.records.count) advisories name no package")
                            + " of a release fathom matches (another product, or a release track an image does not run): kept for their ratings and ids only"
                        if all { printWarning(said) } else { printNote(said) }
                    }
                    if let previous, result.changed {
                        let replaced = "'\(name)' replaced the feed of that name imported \(previous.importedAt) (\(previous.records) records"
                            + (previous.url.map { " from \($0)" } ?? "") + ")"
                        // A feed that shrank lost advisories: said as a warning, with the way to keep both.
                        if lostAdvisories > 0 {
                            printWarning(
                                replaced + ": its \(lostAdvisories) advisories are gone, as this import holds none (\(result.contents)); "
                                    + "if this is another feed, import it with --source OTHER-NAME to keep both")
                        } else if result.records + contents.skippedRecords < previous.records {
                            printWarning(
                                replaced + " with fewer records (\(result.records)); if this is another feed, not a newer copy of that one, "
                                    + "import it with --source OTHER-NAME to keep both")
                        } else {
                            printNote(replaced)
                        }
                    }
                } catch {
                    failed = true
                    printError("\(FathomError.wrapping(error).with(path: path))")
                }
            }
            try await store.close()
            if failed { throw ExitCode(1) }
        }

        /// An Alpine secdb release folder (`…/v3.7`, holding `main.yaml` and `community.yaml`), or
        /// a folder of them, is its files, each its own feed named as `db update` names it: as
        /// one feed named `v3.7` it stood beside `alpine-secdb-v3.7-main` imported later, and its
        /// withdrawn advisories kept firing. Any other path is itself.
        static func secdbFiles(_ path: String) -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
            func release(_ name: String) -> Bool { name == "edge" || name.wholeMatch(of: /v[0-9]+\.[0-9]+/) != nil }
            func files(in folder: String) -> [String] {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                return names.filter { name in
                    ["main", "community"].contains { name == "\($0).yaml" || name == "\($0).yml" || name == "\($0).json" }
                }.sorted().map { folder + "/" + $0 }
            }
            let folder = URL(fileURLWithPath: path).standardized.path
            let name = URL(fileURLWithPath: folder).lastPathComponent
            if release(name) {
                let found = files(in: folder)
                return found.isEmpty ? [path] : found
            }
            let releases = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter(release).sorted()
            let found = releases.flatMap { files(in: folder + "/" + $0) }
            // Only a folder of release folders (and notes beside them, and a clone's hidden `.git`):
            // one with other folders is read as it always was, one feed.
            let others = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { entry in
                var isFolder: ObjCBool = false
                return !release(entry) && !entry.hasPrefix(".")
                    && FileManager.default.fileExists(atPath: folder + "/" + entry, isDirectory: &isFolder) && isFolder.boolValue
            }
            return found.isEmpty || !others.isEmpty ? [path] : found
        }

        /// `osv-go.tar.gz` → `osv-go`; generic names take their parent folders:
        /// `alpine-secdb/v3.7/main.yaml` → `alpine-secdb-v3.7-main`. An Alpine secdb file is
        /// named as `db update` names it, wherever it lies (`2026-06/v3.7/main.yaml` too): a
        /// newer copy from another folder replaces the older, not stands beside it.
        static func sourceName(for path: String) -> String {
            var components = URL(fileURLWithPath: path).standardized.pathComponents.filter { $0 != "/" }
            guard var last = components.popLast() else { return "feed" }
            let document = [".json", ".yaml", ".yml"].contains(where: last.hasSuffix)
            for suffix in [".tar.gz", ".tgz", ".tar", ".zip", ".json.gz", ".json", ".yaml", ".yml"] where last.hasSuffix(suffix) {
                last.removeLast(suffix.count)
                break
            }
            if document, ["main", "community"].contains(last), let release = components.last,
                release == "edge" || release.wholeMatch(of: /v[0-9]+\.[0-9]+/) != nil
            {
                return "alpine-secdb-\(release)-\(last)"
            }
            let generic = ["main", "community", "all", "index", "data", "osv", "vulns", "advisories"]
            guard generic.contains(last) else { return last }
            return (components.suffix(2) + [last]).joined(separator: "-")
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete finished jobs, delivered notifications, registry events, superseded scans and what only they named, older than a cutoff.",
            // Said by hand: --older-than is required, but optional to the parser (below).
            usage: "fathom db prune --older-than <older-than> [--rescan-window <rescan-window>] [--store <store>]",
            discussion: """
                As `fathom serve --retention` does hourly. Whatever their age, an image name keeps its newest job, and its first \
                scan, its two newest and the one its report names; queued and running jobs and undelivered notifications stay; \
                registry events are kept for the rescan window at least.
                """)

        // Optional to the parser only so that a mistyped option (`--older-tan 30d`) is named as
        // unknown: ArgumentParser reports a missing required option first. `run` requires it.
        @Option(help: "Delete what is older than this (90d, 2w; a day at least; required).")
        var olderThan: String?

        @Option(help: "The rescan window the registry events are kept for at least (as serve's --rescan-window).")
        var rescanWindow = "30d"

        @OptionGroup var storeOption: StoreOption

        func validate() throws {
            // Its absence is said in `run`: ArgumentParser validates before it looks for unknown options.
            if let olderThan, try WorkerOptions.retention(olderThan, option: "--older-than", offAllowed: false) == nil {
                throw ValidationError("--older-than takes a duration such as 90d (not 0 or off)")
            }
            guard try WorkerOptions.interval(rescanWindow, option: "--rescan-window") != nil else {
                throw ValidationError("--rescan-window must be a duration such as 30d")
            }
        }

        func run() async throws {
            // Said as ArgumentParser says a usage error (thrown from here, it would come with the root's usage).
            guard let olderThan else {
                FileHandle.standardError.write(
                    Data(
                        "Error: Missing expected argument '--older-than <older-than>' (90d, 2w)\nUsage: \(Self.configuration.usage ?? "")\n  See 'fathom db prune --help' for more information.\n"
                            .utf8))
                throw ExitCode.validationFailure
            }
            let retention = try WorkerOptions.retention(olderThan, option: "--older-than") ?? .zero
            let window = try WorkerOptions.interval(rescanWindow, option: "--rescan-window") ?? .zero
            // A mistyped path would otherwise be a new, empty store, "pruned" of nothing.
            let store: any Store
            do {
                store = try await openExistingStore(storeOption.store)
            } catch {
                printError("cannot prune: \(error)")
                throw ExitCode(1)
            }
            let pruned = try await Scheduler.prune(store, retention: retention, rescanWindow: window, now: Date())
            try await store.close()
            print(
                "Deleted \(pruned.jobs) jobs, \(pruned.notifications) notifications, \(pruned.events) registry events, \(pruned.scans) scans, "
                    + "\(pruned.images) images, \(pruned.inventories) inventories, \(pruned.matches) inventory matches, "
                    + "\(pruned.packageLists) package lists, \(pruned.lineage) layer lineage rows.")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Advisories per ecosystem and each feed's import time.")

        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            let store = try await storeOption.open(forReading: true)
            let stats = try await store.advisoryStatistics()
            // Wide enough for the longest name (`Ubuntu:Pro:FIPS-preview:22.04:LTS`): a name
            // cut to the column ran into its count.
            let width = max(32, (stats.feeds.map(\.source.count) + stats.byEcosystem.map(\.ecosystem.count)).max().map { $0 + 2 } ?? 0)
            func column(_ text: String) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
            print(column("FEED") + "RECORDS     IMPORTED")
            for feed in stats.feeds {
                print(column(feed.source) + String(feed.records).padding(toLength: 12, withPad: " ", startingAt: 0) + feed.importedAt)
            }
            print("")
            print(column("ECOSYSTEM") + "ADVISORIES")
            for (ecosystem, count) in stats.byEcosystem {
                print(column(ecosystem) + String(count))
            }
            let fleet = try await store.counts()
            try await store.close()
            print("")
            print("Layers with facts: \(fleet.layers), images: \(fleet.images), scans: \(fleet.scans), registry events: \(fleet.events)")
        }
    }
}
