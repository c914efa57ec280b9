import ArgumentParser
import FathomCore
import FathomLayer
import FathomOCI
import FathomPipeline
import FathomRegistry
import FathomReport
import Foundation
import Logging

/// `fathom scan REF`: scan one image.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan one image.",
        discussion: """
            REF is registry/repo:tag, registry/repo@sha256:…, oci:DIR[:tag] or docker-archive:FILE[:repo:tag].
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    @Argument(help: "The image to scan.")
    var reference: String

    @Option(help: "Output format: table or json.")
    var format: Format = .table

    @Option(help: "Platform to pick from a multi-platform index (os/arch[/variant]).")
    var platform = "linux/amd64"

    @Option(help: "Layers read at once (default: the number of cores).")
    var layerConcurrency: Int?

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["FATHOM_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
            return handler
        }
        let source: SourceReference
        let wanted: Platform
        do {
            source = try SourceReference(parsing: reference)
            wanted = try Platform(parsing: platform)
        } catch {
            FileHandle.standardError.write(Data("fathom: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var client: RegistryClient?
        defer {
            if let client { Task { try? await client.shutdown() } }
        }
        do {
            let opened = try source.open(client: {
                var host: String?
                if case .registry(let reference) = source { host = reference.registry }
                let made = try registryOptions.makeClient(for: host)
                client = made
                return made
            }())
            let scanner = ImageScanner(platform: wanted, layerConcurrency: layerConcurrency ?? ImageScanner.defaultConcurrency())
            let result = try await scanner.scan(opened)
            if let client { try await client.shutdown() }
            client = nil
            let report = ScanReport(result)
            let text = format == .json ? try report.json() : report.table()
            try write(text)
        } catch {
            if let client { try? await client.shutdown() }
            client = nil
            let fathomError = FathomError.wrapping(error, image: reference)
            FileHandle.standardError.write(Data("fathom: error: \(fathomError)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func write(_ text: String) throws {
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
