import ArgumentParser
import FathomCore
import FathomStore
import Foundation

/// `fathom events import FILE…`: record the registry's push and pull events in the store, for
/// `--pushed-since` and `--pulled-since`; a delete takes its images out of the store (as the
/// service's webhook does), so `rescan` no longer re-matches them.
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
                    var added = try await store.importEvents(events.filter { $0.action != .delete })
                    var removed: [String] = []
                    for event in events where event.action == .delete {
                        // One by one: only a delete seen for the first time acts (one imported
                        // again must not take out an image pushed again since).
                        guard try await store.importEvents([event]) == 1 else { continue }
                        added += 1
                        if let host = event.host { removed += try await store.removeDeleted(event, host: host) }
                    }
                    print("\(file): \(events.count) events, \(added) new" + (removed.isEmpty ? "" : ", \(removed.count) deleted images taken out of the store"))
                    for name in removed { print("  removed \(name)") }
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
