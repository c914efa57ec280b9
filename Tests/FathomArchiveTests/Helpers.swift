import FathomCore
import FathomArchive
import FathomTestSupport
import Foundation

/// Collects every entry and, optionally, every body.
struct EntryCollector: TarEntryHandler {
    var entries: [TarEntry] = []
    var bodies: [String: [UInt8]] = [:]
    var collectBodies = false

    mutating func claim(_ entry: TarEntry) -> TarBodyClaim {
        entries.append(entry)
        return collectBodies ? .collect(limit: 1 << 24) : .skip
    }

    mutating func receive(_ entry: TarEntry, body: [UInt8], complete: Bool) throws {
        bodies[entry.path] = body
    }
}

/// Reads a layer file through the full pipeline (digest, decoder, tar walk).
func readLayerFile(
    _ path: String, expecting: LayerExpectation? = nil, collectBodies: Bool = false, chunkSize: Int = 64 * 1024
) async throws -> (LayerReadSummary, EntryCollector) {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    return try await readLayerBytes(bytes, expecting: expecting, collectBodies: collectBodies, chunkSize: chunkSize)
}

func readLayerBytes(
    _ bytes: [UInt8], expecting: LayerExpectation? = nil, collectBodies: Bool = false, chunkSize: Int = 64 * 1024
) async throws -> (LayerReadSummary, EntryCollector) {
    var collector = EntryCollector(collectBodies: collectBodies)
    let expectation =
        expecting ?? LayerExpectation(digest: Digest.sha256(of: bytes), size: Int64(bytes.count))
    let summary = try await LayerReader.read(
        .memory(bytes, chunkSize: chunkSize), expecting: expectation, handler: &collector)
    return (summary, collector)
}

/// What GNU tar lists for an archive: names exactly as stored, one per line.
func tarListing(_ path: String) async throws -> [String] {
    try await Tool.run(["tar", "--quoting-style=literal", "-tf", path]).text.split(separator: "\n", omittingEmptySubsequences: true)
        .map(String.init)
}

/// The type character `tar -tv` prints first for each entry (`-`, `d`, `l`, `h`, `c`, `b`, `p`).
func tarTypes(_ path: String) async throws -> [Character] {
    try await Tool.run(["tar", "--quoting-style=literal", "-tvf", path]).text.split(separator: "\n").map { $0.first ?? "?" }
}

extension TarEntry.Kind {
    /// The `tar -tv` type character.
    var tarCharacter: Character {
        switch self {
        case .file, .whiteout, .opaqueWhiteout, .other: return "-"
        case .hardLink: return "h"
        case .symlink: return "l"
        case .directory: return "d"
        case .characterDevice: return "c"
        case .blockDevice: return "b"
        case .fifo: return "p"
        }
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
