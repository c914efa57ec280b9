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
                return try BoundedYAML.decode(OSVRecord.self, from: String(decoding: bytes, as: UTF8.self))
            }
            return try JSONDecoder().decode(OSVRecord.self, from: Data(bytes))
        } catch {
            throw FathomError(.invalidInput, "not an OSV record", path: file, cause: error)
        }
    }

    /// OSV records for every CVE an Alpine secdb document lists per package, fixed in the highest
    /// version it is listed under (`0` marks a CVE that never affected the package: no record).
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
                ? try JSONDecoder().decode(Document.self, from: Data(bytes)) : try BoundedYAML.decode(Document.self, from: text)
        } catch {
            throw FathomError(.invalidInput, "not an Alpine secdb document", path: file, cause: error)
        }
        let ecosystem = "Alpine:" + document.distroversion
        // A CVE may be listed under several fixes of a package (a fix that was not complete, a
        // branch's older line, the package listed twice): every version below the highest is
        // still affected by one of them, so the highest is the version that fixes it.
        var fixesByID: [String: (package: String, cve: String, fixes: [String])] = [:]
        for entry in document.packages ?? [] {
            for (fixed, identifiers) in entry.pkg.secfixes ?? [:] where fixed != "0" {
                for identifier in identifiers ?? [] {
                    for cve in Self.identifiers(in: identifier) {
                        let id = "ALPINE-\(document.distroversion)-\(entry.pkg.name)-\(cve)"
                        fixesByID[id, default: (entry.pkg.name, cve, [])].fixes.append(fixed)
                    }
                }
            }
        }
        let apk = ApkVersion()
        var records: [String: OSVRecord] = [:]
        for (id, listed) in fixesByID {
            var fixed = listed.fixes[0]
            for candidate in listed.fixes.dropFirst() {
                do {
                    if try apk.compare(fixed, candidate) == .less { fixed = candidate }
                } catch {
                    throw FathomError(
                        .invalidInput, "\(listed.package) lists \(listed.cve) as fixed in \(fixed) and \(candidate), which cannot be ordered",
                        path: file, cause: error)
                }
            }
            let affected = OSVRecord.Affected(
                package: .init(ecosystem: ecosystem, name: listed.package, purl: nil),
                ranges: [.init(type: "ECOSYSTEM", repo: nil, events: [.init(introduced: "0"), .init(fixed: fixed)])],
                versions: nil, severity: nil)
            records[id] = OSVRecord(
                id: id, aliases: [listed.cve], affected: [affected],
                references: [.init(type: "ADVISORY", url: "https://security.alpinelinux.org/vuln/\(listed.cve)")])
        }
        return records.values.sorted { $0.id < $1.id }
    }

    /// The vulnerabilities one secfixes line names: every CVE on it ("CVE-2017-5753
    /// CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI" is three; taking the first token alone lost
    /// Spectre v2 and Meltdown), or, with no CVE, its first id ("XSA-246"). A CVE is read as
    /// the id it names, as the secdb's authors meant it: `CVE_2019-2426` and
    /// `CVE-2017-8073.patch` (both in the real feed) are CVE-2019-2426 and CVE-2017-8073, so
    /// they join NVD's severity, KEV and EPSS, and the same CVE of another feed.
    ///
    /// "CVE 2018-16859" (ansible's line) is CVE-2018-16859. A token that begins as a CVE but
    /// names none (xen's placeholder "CVE-????-?????" before "XSA-295", or a line cut short in
    /// a truncated file, "CVE-20") is no id: the line's next id is taken, else it names none.
    static func identifiers(in line: String) -> [String] {
        let split = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map {
            String($0).trimmingCharacters(in: CharacterSet(charactersIn: "()[]"))
        }.filter { !$0.isEmpty }
        var tokens: [String] = []
        var index = 0
        while index < split.count {
            if split[index].uppercased() == "CVE", index + 1 < split.count, let joined = cve("CVE-" + split[index + 1]) {
                tokens.append(joined)
                index += 2
            } else {
                tokens.append(split[index])
                index += 1
            }
        }
        let cves = tokens.compactMap(cve)
        return cves.isEmpty ? Array(tokens.filter { !$0.uppercased().hasPrefix("CVE") }.prefix(1)) : cves
    }

    /// `CVE-YYYY-N…` from a token that starts with it (`cve` in any case, `-` or `_` after it), or nil.
    static func cve(_ token: String) -> String? {
        let bytes = Array(token.utf8)
        guard bytes.count >= 13, bytes[0...2].map({ $0 & 0xDF }).elementsEqual("CVE".utf8), bytes[3] == UInt8(ascii: "-") || bytes[3] == UInt8(ascii: "_")
        else { return nil }
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        guard bytes[4..<8].allSatisfy(isDigit), bytes[8] == UInt8(ascii: "-") else { return nil }
        let number = bytes[9...].prefix(while: isDigit)
        guard number.count >= 4 else { return nil }
        return "CVE-" + String(decoding: bytes[4..<8], as: UTF8.self) + "-" + String(decoding: number, as: UTF8.self)
    }
}
