import ArgumentParser
import FathomCore
import FathomStore
import Foundation

/// `fathom events import FILE…`: record the registry's push and pull events in the store, for
/// `--pushed-since` and `--pulled-since`.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Registry notification events (push and pull times).", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import the registry's notification envelopes (JSON, or one envelope per line).")

        @Argument(help: "Files of notification envelopes.")
        var files: [String]

        @OptionGroup var storeOption: StoreOption

        func run() async throws {
            let store = try await storeOption.open()
            for file in files {
                do {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        throw FathomError(.io, "cannot read the events file", path: file)
                    }
                    let events = try RegistryEvent.decode(Array(data), file: file)
                    let added = try await store.importEvents(events)
                    print("\(file): \(events.count) events, \(added) new")
                } catch {
                    try? await store.close()
                    printError("\(error)")
                    throw ExitCode(1)
                }
            }
            try await store.close()
        }
    }
}
