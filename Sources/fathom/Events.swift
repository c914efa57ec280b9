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
                    let (events, unreadable) = try RegistryEvent.read(Array(data), file: file, receivedAt: nil)
                    for event in unreadable { printWarning("\(file): \(event): not imported") }
                    let added = try await store.importEvents(events)
                    var removed: [String] = []
                    // A delete acts however often it is imported (an import that failed midway
                    // acts when run again); a name pushed again since is left (`removeDeleted`).
                    for event in events where event.action == .delete {
                        guard let host = event.host else {
                            printWarning("\(file): the delete of \(event.repository) \(event.tag ?? event.digest?.description ?? "") names no registry host (request.host): nothing taken out")
                            continue
                        }
                        removed += try await store.removeDeleted(event, host: host)
                    }
                    print("\(file): \(events.count) events, \(added) new" + (unreadable.isEmpty ? "" : ", \(unreadable.count) not read") + (removed.isEmpty ? "" : ", \(removed.count) deleted images taken out of the store"))
                    for name in removed { print("  removed \(name)") }
                } catch {
                    try? await store.close()
                    printError(FathomError.plain(error))
                    throw ExitCode(1)
                }
            }
            try await store.close()
        }
    }
}
