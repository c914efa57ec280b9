// Feed readers: OSV JSON and YAML (PyPA writes OSV as YAML), and Alpine's secdb
// (https://secdb.alpinelinux.org: `packages[].pkg.{name, secfixes{version: [CVE…]}}`),
// turned into OSV records so one index and one matcher serve every feed.
import FathomCore
import FathomVersion
import Foundation
import Yams

public enum AdvisoryImport {
    /// An OSV record from JSON or YAML bytes.
    public static func osv(_ bytes: [UInt8], file: String) throws -> OSVRecord {
        do {
            if file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                return try YAMLDecoder().decode(OSVRecord.self, from: String(decoding: bytes, as: UTF8.self))
            }
            return try JSONDecoder().decode(OSVRecord.self, from: Data(bytes))
        } catch {
            throw FathomError(.invalidInput, "not an OSV record", path: file, cause: error)
        }
    }

    /// OSV records for every fix an Alpine secdb document lists (`0` marks a CVE that never
    /// affected the package and gives no record).
    public static func alpineSecdb(_ bytes: [UInt8], file: String) throws -> [OSVRecord] {
        struct Document: Decodable {
            struct Entry: Decodable {
                struct Pkg: Decodable {
                    var name: String
                    var secfixes: [String: [String]?]?
                }
                var pkg: Pkg
            }
            var distroversion: String
            var packages: [Entry]?
        }
        let document: Document
        do {
            let text = String(decoding: bytes, as: UTF8.self)
            document = file.hasSuffix(".json")
                ? try JSONDecoder().decode(Document.self, from: Data(bytes)) : try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw FathomError(.invalidInput, "not an Alpine secdb document", path: file, cause: error)
        }
        let ecosystem = "Alpine:" + document.distroversion
        var records: [String: OSVRecord] = [:]
        let apk = ApkVersion()
        for entry in document.packages ?? [] {
            // Lowest fix first, so a CVE listed under several fixes keeps the first that fixed it
            // (and the result does not depend on dictionary order).
            let fixes = (entry.pkg.secfixes ?? [:]).filter { $0.key != "0" }.sorted {
                (try? apk.compare($0.key, $1.key)) == .less || ((try? apk.compare($0.key, $1.key)) == .equal && $0.key < $1.key)
            }
            for (fixed, identifiers) in fixes {
                for identifier in (identifiers ?? []) {
                    // "CVE-2019-1 CVE-2019-2" and "XSA-1 (CVE-…)" forms appear: take the first token.
                    guard let cve = identifier.split(separator: " ").first.map(String.init), !cve.isEmpty else { continue }
                    let affected = OSVRecord.Affected(
                        package: .init(ecosystem: ecosystem, name: entry.pkg.name, purl: nil),
                        ranges: [.init(type: "ECOSYSTEM", repo: nil, events: [.init(introduced: "0"), .init(fixed: fixed)])],
                        versions: nil, severity: nil)
                    let id = "ALPINE-\(document.distroversion)-\(entry.pkg.name)-\(cve)"
                    guard records[id] == nil else { continue }
                    records[id] = OSVRecord(
                        id: id, aliases: [cve], affected: [affected],
                        references: [.init(type: "ADVISORY", url: "https://security.alpinelinux.org/vuln/\(cve)")])
                }
            }
        }
        return records.values.sorted { $0.id < $1.id }
    }
}
