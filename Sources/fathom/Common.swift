import ArgumentParser
import AsyncAlgorithms
import FathomCore
import FathomPipeline
import FathomReport
import FathomStore
import FathomStores
import Foundation
import Glibc
import Logging
import Mustache

/// `--store`: the store every command shares.
struct StoreOption: ParsableArguments {
    @Option(help: "The store: an SQLite file (PATH or sqlite:PATH), or PostgreSQL (postgres://user:password@host:5432/database). Default: $XDG_CACHE_HOME/fathom/fathom.db.")
    var store: String?

    /// The store, or a one-line error and exit 1 (a wrong scheme, a file that cannot be opened).
    /// `forReading`: a command that only reads, which opens a file it may not write read-only.
    /// `answersQueries`: `serve`, whose API filters are planned for their values on PostgreSQL;
    /// every other command that writes has its statements planned once per connection.
    /// `creates`: a command that fills a new store (`db import`, `update`, `pull`), which makes
    /// one without a word; any other says it made one, since a mistyped --store would otherwise
    /// read only as "no advisory data" or "no scans".
    func open(forReading: Bool = false, answersQueries: Bool = false, creates: Bool = false) async throws -> any Store {
        let made = creates || forReading ? nil : newFile
        do {
            let opened = forReading ? try await openStoreForReading(store) : try await openStore(store, genericPlans: !answersQueries)
            if let made { printNote("there was no store at \(made): a new, empty one was made (is --store mistyped?)") }
            return opened
        } catch {
            let path = store ?? defaultStoreLocation()
            if !forReading, !path.contains("://"), FileManager.default.fileExists(atPath: path), !FileManager.default.isWritableFile(atPath: path) {
                printError("the store \(path) is read-only for this user: this command writes to it (db stats, db status and version only read)")
                throw ExitCode(1)
            }
            printError("cannot open the store: \(error)")
            throw ExitCode(1)
        }
    }
}

extension StoreOption {
    /// The SQLite file --store names, when it is not there yet.
    var newFile: String? {
        guard var path = store else { return nil }
        for prefix in ["sqlite://", "sqlite:"] where path.hasPrefix(prefix) {
            path = String(path.dropFirst(prefix.count))
            break
        }
        guard !path.isEmpty, path != ":memory:", !path.contains("://"), !path.lowercased().hasPrefix("postgres"), !FileManager.default.fileExists(atPath: path)
        else { return nil }
        return path
    }
}

/// `--quiet` was given: notes and warnings are not printed, only the report and errors.
let quietOutput = Locked(false)

/// swift-log to standard error, at `FATHOM_LOG_LEVEL` (default: warning): for a command's run
/// (`service: false`) as the command's own lines read, for the service as swift-log writes them
/// (the time and the logger's label, for a log that is kept).
func bootstrapLogging(quiet: Bool = false, service: Bool = false) {
    quietOutput.withLock { $0 = quiet }
    let level = ProcessInfo.processInfo.environment["FATHOM_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? (quiet ? .error : .warning)
    LoggingSystem.bootstrap { label in
        guard service else { return CommandLineLogHandler(logLevel: level) }
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// A log line as the commands' own warnings read (`fathom: warning: body damaged in transit,
/// reading it again (attempt=1, cause=…)`), not swift-log's timestamped line among them.
struct CommandLineLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(metadataProvider?.get() ?? [:]) { $1 }.merging(event.metadata ?? [:]) { $1 }
        let details = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        let level = event.level >= .error ? "error" : "\(event.level)"
        FileHandle.standardError.write(Data("fathom: \(level): \(event.message)\(details.isEmpty ? "" : " (\(details))")\n".utf8))
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data("fathom: error: \(text)\n".utf8))
}

func printWarning(_ text: String) {
    if quietOutput.withLock({ $0 }) { return }
    FileHandle.standardError.write(Data("fathom: warning: \(text)\n".utf8))
}

/// Something the user should know that is not a problem (a feed replaced as asked, nothing to do).
func printNote(_ text: String) {
    if quietOutput.withLock({ $0 }) { return }
    FileHandle.standardError.write(Data("fathom: note: \(text)\n".utf8))
}

/// Shows a fleet's progress: one live line on a terminal, a plain line every 10 s otherwise.
final class ProgressDisplay: Sendable {
    let task: Task<Void, Never>
    let live: Bool
    let progress: FleetProgress

    init(_ progress: FleetProgress, quiet: Bool) {
        self.progress = progress
        let live = isatty(STDERR_FILENO) != 0
        self.live = live && !quiet
        guard !quiet else {
            task = Task {}
            return
        }
        task = Task {
            for await _ in AsyncTimerSequence(interval: live ? .milliseconds(250) : .seconds(10), clock: .continuous) {
                if Task.isCancelled { break }
                let line = progress.snapshot.line
                FileHandle.standardError.write(Data((live ? "\r\u{1B}[2K" + line : "progress: " + line + "\n").utf8))
            }
        }
    }

    /// Stops the display and clears the live line.
    func stop() async {
        task.cancel()
        await task.value
        if live { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}

/// `30d`, `12h`, `90m`, `2w`, or an RFC 3339 date: the cut-off time it names.
func parseSince(_ text: String, now: Date = Date()) throws -> Date {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
    if let unit = text.last, let seconds = units[unit], let amount = Double(text.dropLast()), amount >= 0 {
        return now.addingTimeInterval(-amount * seconds)
    }
    if let date = RegistryEvent.parseTimestamp(text) { return date }
    throw ValidationError("'\(text)' is neither a duration (30d, 12h, 90m, 2w) nor an RFC 3339 time")
}

/// What standard output is: a terminal (colours, its width) or not.
enum Terminal {
    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Colours on a terminal unless `NO_COLOR` is set to anything (no-color.org).
    static var wantsColour: Bool {
        isTerminal && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    }

    /// The terminal's columns (`COLUMNS`, else the window size); nil when not a terminal.
    static var width: Int? {
        guard isTerminal else { return nil }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}

/// `--timeout`: a limit on the whole run. Past it, the run stops with an error naming what was cut
/// short and exit 1; the store keeps what it had (each write is a transaction), nothing half-done.
struct TimeoutOption: ParsableArguments {
    @Option(help: "Give up after this long (30s, 10m, 2h): an error and exit 1. Default: no limit.")
    var timeout: String?

    func validate() throws { _ = try limit() }

    func limit() throws -> Duration? { try timeout.flatMap { try WorkerOptions.interval($0, option: "--timeout") } }

    /// Starts the clock for `what`; cancel the task when the run ends in time.
    /// `onExpiry` runs before the exit (`scan` removes an earlier report at --output).
    func start(_ what: String, onExpiry: @escaping @Sendable () -> Void = {}) throws -> Task<Void, Never>? {
        guard let limit = try limit(), let timeout else { return nil }
        return Task.detached {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled else { return }
            printError("\(what): timed out after \(timeout) (--timeout)")
            onExpiry()
            Glibc.exit(1)
        }
    }
}

/// `--template`, read and parsed once per run; an error is one line and exit 1.
func loadTemplate(_ argument: String?) throws -> MustacheTemplate? {
    do {
        return try argument.map(ReportTemplate.load)
    } catch {
        printError(FathomError.plain(error))
        throw ExitCode(1)
    }
}

/// `--max-layer-bytes` and the other read limits: what one layer or image may expand to before
/// its scan fails with a `limit exceeded` error naming the image, the layer and the option.
struct ReadLimitOptions: ParsableArguments {
    @Option(help: "Tar bytes one layer may expand to (e.g. 16GiB, 512MiB).")
    var maxLayerBytes = "16GiB"

    @Option(help: "Tar bytes all of an image's layers may expand to together.")
    var maxImageBytes = "64GiB"

    @Option(help: "Expanded bytes per compressed byte a layer may reach once past 256 MiB (a decompression bomb is far above).")
    var maxExpansionRatio = Int(ReadLimits.default.expansionRatio)

    @Option(help: "Tar entries one layer may hold.")
    var maxLayerEntries = ReadLimits.default.layerEntries

    @Option(help: "Layers one image may have.")
    var maxImageLayers = ReadLimits.default.imageLayers

    @Option(help: "The most bytes of one package database or manifest file read. Default: each analyzer's own (1 MiB to 512 MiB).")
    var maxFileBytes: String?

    func validate() throws { _ = try limits() }

    func limits() throws -> ReadLimits {
        func size(_ text: String, _ option: String) throws -> Int64 {
            guard let bytes = ReadLimits.parseSize(text), bytes >= 1 else {
                throw ValidationError("\(option) takes a size such as 16GiB, 512MiB or 1000000 (bytes), not '\(text)'")
            }
            return bytes
        }
        for (value, option) in [
            (maxExpansionRatio, "--max-expansion-ratio"), (maxLayerEntries, "--max-layer-entries"),
            (maxImageLayers, "--max-image-layers"),
        ] where value < 1 {
            throw ValidationError("\(option) must be at least 1")
        }
        return ReadLimits(
            layerBytes: try size(maxLayerBytes, "--max-layer-bytes"), imageBytes: try size(maxImageBytes, "--max-image-bytes"),
            expansionRatio: Int64(maxExpansionRatio), layerEntries: maxLayerEntries, imageLayers: maxImageLayers,
            fileBytes: try maxFileBytes.map { Int(try size($0, "--max-file-bytes")) })
    }
}
