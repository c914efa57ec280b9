import ArgumentParser
import FathomCore
import FathomStore
import FathomStores
import Foundation

/// `fathom version` (and `fathom --version`): fathom's version and how old its advisory data is,
/// as `trivy version` shows its database.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print fathom's version and the age of its advisory data.")

    @OptionGroup var storeOption: StoreOption

    func run() async throws {
        print(try await Self.text(store: storeOption.store))
    }

    /// The lines it prints. A missing SQLite store (the default or one --store names) is
    /// reported, not created: `version` only reads.
    static func text(store location: String?, now: Date = Date()) async throws -> String {
        var lines = ["fathom \(FathomVersionInfo.version)"]
        let path = location.map { $0.hasPrefix("sqlite://") ? String($0.dropFirst(9)) : $0.hasPrefix("sqlite:") ? String($0.dropFirst(7)) : $0 }
            ?? defaultStoreLocation()
        if !path.contains("://") && !FileManager.default.fileExists(atPath: path) {
            lines.append("Advisory data: none (no store at \(path); fathom db update fills it)")
            return lines.joined(separator: "\n")
        }
        let store: any Store
        do {
            store = try await openStoreForReading(location)
        } catch {
            lines.append("Advisory data: unknown (cannot open the store: \(error))")
            return lines.joined(separator: "\n")
        }
        let feeds = try await store.advisoryFeeds()
        let version = try await store.advisoryVersion()
        try await store.close()
        guard let oldest = feeds.oldestUpdate else {
            lines.append("Advisory data: none imported (fathom db update)")
            return lines.joined(separator: "\n")
        }
        let formatter = ISO8601DateFormatter()
        let hours = Int(now.timeIntervalSince(oldest) / 3600)
        let age = hours < 48 ? "\(hours) h" : "\(hours / 24) days"
        let records = feeds.map(\.records).reduce(0, +)
        lines.append("Advisory data: version \(version), \(records) records from \(feeds.count) feeds")
        lines.append("  oldest feed last updated \(formatter.string(from: oldest)) (\(age) ago)")
        return lines.joined(separator: "\n")
    }
}
