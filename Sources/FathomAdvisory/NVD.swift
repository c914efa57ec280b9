// NVD CVE API 2.0 JSON (https://nvd.nist.gov/developers/vulnerabilities): the yearly feed files
// `nvdcve-2.0-*.json[.gz]` and the API's pages share one shape, `{"format": "NVD_CVE",
// "vulnerabilities": [{"cve": {"id", "vulnStatus", "metrics": {"cvssMetricV40": [{"source",
// "type", "cvssData": {"version", "vectorString", "baseScore"}}], "cvssMetricV31", …}}}]}`.
// One CVE's object alone (the `cve` of an item) is read too. fathom reads it as a severity
// source: CVSS scores by CVE id, not advisories.
import FathomCore
import Foundation

public enum NVDImport {
    /// Whether a JSON document names NVD's format in its first bytes.
    static func sniff(_ bytes: [UInt8]) -> Bool {
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
        return head.contains("\"NVD_CVE\"")
    }

    /// Whether a JSON document is one CVE in the API's `cve` shape, alone (as one file per CVE,
    /// fkie-cad/nvd-json-data-feeds' layout, keeps them): its first keys name its source and
    /// status, which no OSV record has (OSV's have `affected` too, so shape alone would misread it).
    static func sniffRecord(_ bytes: [UInt8]) -> Bool {
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
        return head.contains("\"sourceIdentifier\"") && head.contains("\"vulnStatus\"") && head.contains("\"CVE-")
    }

    static func isNVD(_ dictionary: [String: Any]) -> Bool {
        dictionary["format"] as? String == "NVD_CVE" || (dictionary["vulnerabilities"] as? [[String: Any]])?.first?["cve"] != nil
    }

    /// The CVSS scores of every CVE in the document (rejected CVEs left out), and a warning for
    /// each score NVD states that its vector does not give (fathom ranks by the stated score).
    public static func scores(_ bytes: [UInt8], file: String) throws -> (scores: [String: [CVSSScore]], notes: [String]) {
        struct Document: Decodable {
            var format: String?
            var version: String?
            var vulnerabilities: [Item]
        }
        struct Item: Decodable { var cve: CVE }
        struct CVE: Decodable {
            var id: String
            var vulnStatus: String?
            var metrics: [String: [Metric]]?
        }
        struct Metric: Decodable {
            struct Data: Decodable {
                var version: String
                var vectorString: String
                var baseScore: Double
            }
            var source: String?
            var type: String?
            // Not under every key: `metrics` holds other kinds too (CISA's `ssvcV203`), skipped.
            var cvssData: Data?
        }
        let document: Document
        do {
            if sniff(bytes) {
                document = try JSONDecoder().decode(Document.self, from: Data(bytes))
            } else {
                // One CVE alone, the inner object of a `vulnerabilities` item.
                document = Document(vulnerabilities: [Item(cve: try JSONDecoder().decode(CVE.self, from: Data(bytes)))])
            }
        } catch {
            throw FathomError(.invalidInput, "not NVD CVE API 2.0 JSON", path: file, cause: error)
        }
        guard document.format == nil || document.format == "NVD_CVE", (document.version ?? "2.0").hasPrefix("2.") else {
            throw FathomError(
                .unsupported, "NVD \(document.format ?? "?") version \(document.version ?? "?") (fathom reads the CVE API 2.0 format)",
                path: file)
        }
        var scores: [String: [CVSSScore]] = [:]
        var mismatches: [String] = []
        for item in document.vulnerabilities where item.cve.vulnStatus != "Rejected" {
            // Newest CVSS version first; within one, NVD's own analysis before the CNA's.
            for key in ["cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"] {
                for metric in item.cve.metrics?[key] ?? [] {
                    guard let data = metric.cvssData else { continue }
                    // `type` tells NVD's own analysis (Primary) from a CNA's (Secondary).
                    let source = "nvd"
                    let stated = CVSSScore(source: source, version: data.version, vector: data.vectorString, score: data.baseScore, type: metric.type)
                    if let computed = CVSSScore(vector: data.vectorString, source: source), computed.score != data.baseScore {
                        mismatches.append("\(item.cve.id) \(data.vectorString): NVD states \(data.baseScore), the vector gives \(computed.score)")
                    }
                    if !(scores[item.cve.id]?.contains(stated) ?? false) { scores[item.cve.id, default: []].append(stated) }
                }
            }
        }
        var warnings: [String] = []
        if !mismatches.isEmpty {
            warnings.append(
                "\(file): \(mismatches.count) stated score\(mismatches.count == 1 ? "" : "s") differ from the vector's (kept as stated): "
                    + mismatches.prefix(3).joined(separator: "; ") + (mismatches.count > 3 ? "; …" : ""))
        }
        return (scores, warnings)
    }
}
