import ArgumentParser
import FathomCore

/// `fathom`: thin command-line front end; all logic lives in the libraries.
@main
struct Fathom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fathom",
        abstract: "Scan container images for vulnerable packages.",
        version: FathomVersionInfo.version,
        subcommands: [Scan.self, RegistryScan.self, Rescan.self, Serve.self, Worker.self, Events.self, Database.self, Vercmp.self])
}
