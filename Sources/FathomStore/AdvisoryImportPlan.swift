package import FathomAdvisory
package import FathomCore
import Foundation

/// What every store does the same way when it imports a feed: the records encoded (JSON with
/// sorted keys, in id order), the CVSS scores and exploitation data to index, the content digest that says whether
/// anything changed, and what the import changes for stored matches.
package struct AdvisoryImportPlan {
    package let source: String
    /// Each record with its JSON, in id order.
    package let encoded: [(record: OSVRecord, json: String)]
    /// The scores read from each live record's own vectors, under its id and every alias.
    package let derived: [(id: String, score: CVSSScore)]
    /// A severity source's own scores (NVD's), by vulnerability id.
    package let explicit: [(id: String, score: CVSSScore)]
    package let scores: [String: [CVSSScore]]
    /// Exploitation data (KEV, EPSS) by CVE id, each as JSON with sorted keys, in id order.
    package let exploitation: [(id: String, json: String)]
    package let exploitationByID: [String: Exploitation]
    package let digest: String
    package let advisories: Int
    /// Records not withdrawn (those matching uses), kept with the import so that opening the
    /// advisories does not parse every record to count them.
    package let live: Int

    /// The (id, OSV ecosystem, package name) of each package a live record names: what the store
    /// indexes for matching. A withdrawn record names none, as matching skips it (a withdrawn
    /// GHSA's group would otherwise count as one more group of a Maven artifact).
    package var packageRows: [(id: String, ecosystem: String, name: String)] {
        encoded.flatMap { record, _ in
            record.withdrawn != nil ? [] : (record.affected ?? []).compactMap { affected in
                affected.package.map { (record.id, $0.ecosystem, $0.name) }
            }
        }
    }

    /// More changed keys than this in one import are not listed: a match that old is redone
    /// whole, which is no slower than re-matching nearly every package.
    package static let listedChangeLimit = 100_000

    package init(records: [OSVRecord], scores: [String: [CVSSScore]], exploitation: [String: Exploitation] = [:], source: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var hasher = DigestHasher()
        var encoded: [(OSVRecord, String)] = []
        var derived: [(String, CVSSScore)] = []
        for record in records.sorted(by: { $0.id < $1.id }) {
            let json = String(decoding: try encoder.encode(record), as: UTF8.self)
            hasher.update(Array(json.utf8))
            encoded.append((record, json))
            guard record.withdrawn == nil else { continue }
            for score in Rating(record: record, source: source).scores {
                for id in [record.id] + record.relatedIDs { derived.append((id, score)) }
            }
        }
        let explicit = scores.sorted { $0.key < $1.key }.flatMap { id, list in list.map { (id, $0) } }
        for (id, score) in explicit { hasher.update(Array("\(id) \(String(decoding: try encoder.encode(score), as: UTF8.self))\n".utf8)) }
        var exploited: [(String, String)] = []
        for (id, facts) in exploitation.sorted(by: { $0.key < $1.key }) {
            let json = String(decoding: try encoder.encode(facts), as: UTF8.self)
            exploited.append((id, json))
            hasher.update(Array("exploitation \(id) \(json)\n".utf8))
        }
        self.exploitation = exploited
        exploitationByID = exploitation
        self.source = source
        self.encoded = encoded
        self.derived = derived
        self.explicit = explicit
        self.scores = scores
        digest = hasher.finalize().description
        advisories = records.count
        live = records.count { $0.withdrawn == nil }
    }

    /// The result of this import (`changed`: it replaced what was stored).
    package func result(changed: Bool) -> AdvisoryImportResult {
        // A severity source counts the vulnerabilities it scores.
        AdvisoryImportResult(
            source: source, records: advisories + scores.count + exploitation.count, advisories: advisories, scored: scores.count,
            exploited: exploitation.count, changed: changed)
    }

    /// What replacing the stored records (id → JSON) and explicit scores changes; nil when too
    /// much to list, or when a stored record cannot be read (it says nothing of what it affected).
    package func changes(
        stored: [String: String], storedScores: [String: [CVSSScore]], storedExploitation: [String: Exploitation] = [:]
    ) -> AdvisoryChanges? {
        var stored = stored
        var changes = AdvisoryChanges()
        let decoder = JSONDecoder()
        func addStored(_ json: String) -> Bool {
            guard let record = try? decoder.decode(OSVRecord.self, from: Data(json.utf8)) else { return false }
            changes.add(record)
            return true
        }
        for (record, json) in encoded {
            let previous = stored.removeValue(forKey: record.id)
            guard previous != json else { continue }
            changes.add(record)
            if let previous, !addStored(previous) { return nil }
            if changes.packages.count + changes.ids.count > Self.listedChangeLimit { return nil }
        }
        for json in stored.values {
            guard addStored(json) else { return nil }
            if changes.packages.count + changes.ids.count > Self.listedChangeLimit { return nil }
        }
        for id in Set(storedScores.keys).union(scores.keys) where storedScores[id] != scores[id] { changes.ids.insert(id) }
        for id in Set(storedExploitation.keys).union(exploitationByID.keys) where storedExploitation[id] != exploitationByID[id] {
            changes.ids.insert(id)
        }
        return changes.packages.count + changes.ids.count > Self.listedChangeLimit ? nil : changes
    }

    /// The advisory data version of a store's imports (source, content digest): a digest of them all.
    package static func advisoryVersion(_ imports: [(source: String, digest: String)]) -> String {
        guard !imports.isEmpty else { return "none" }
        var hasher = DigestHasher()
        for (source, digest) in imports.sorted(by: { $0.source < $1.source }) { hasher.update(Array("\(source) \(digest)\n".utf8)) }
        return String(hasher.finalize().encoded.prefix(16))
    }
}
