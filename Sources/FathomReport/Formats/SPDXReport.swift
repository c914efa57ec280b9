import FathomAdvisory
import FathomCore
import FathomInventory
public import Foundation

/// SPDX 2.3 JSON: an SBOM of the image (a CONTAINER package), its OS (OPERATING_SYSTEM) and
/// every package with its purl, related image → CONTAINS → package. Each finding is a SECURITY
/// advisory reference of its package, whose comment gives the severity, its source, the CVSS
/// scores and the fix.
extension ScanReport {
    public func spdx(documentID: UUID = UUID(), at date: Date = Date()) throws -> String {
        let purls = packageURLs
        let imageID = "SPDXRef-Image"
        var packagesJSON: [JSONValue] = []
        var relationships: [JSONValue] = [
            ["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": .string(imageID)]
        ]
        var image: [String: JSONValue] = [
            "SPDXID": .string(imageID), "name": .string(artifact.name), "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
            "primaryPackagePurpose": "CONTAINER", "copyrightText": "NOASSERTION", "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
        ]
        if let digest = artifact.manifestDigest {
            image["versionInfo"] = .string(digest.description)
            image["checksums"] = [["algorithm": digest.algorithm == .sha256 ? "SHA256" : "SHA512", "checksumValue": .string(digest.encoded)]]
        }
        if let url = imageURL {
            image["externalRefs"] = [["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": .string(url.description)]]
        }
        packagesJSON.append(.object(image))
        if let os {
            packagesJSON.append([
                "SPDXID": "SPDXRef-OperatingSystem", "name": .string(os.id), "versionInfo": JSONValue(os.versionID),
                "downloadLocation": "NOASSERTION", "filesAnalyzed": false, "primaryPackagePurpose": "OPERATING_SYSTEM",
                "description": JSONValue(os.prettyName), "copyrightText": "NOASSERTION",
            ])
            relationships.append(["spdxElementId": .string(imageID), "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem"])
        }
        var findings: [Int: [Vulnerability]] = [:]
        let indexes = packageIndexes
        for vulnerability in vulnerabilities {
            if let index = indexes[Self.packageKey(vulnerability)] { findings[index, default: []].append(vulnerability) }
        }
        for (index, package) in packages.enumerated() {
            let id = "SPDXRef-Package-\(index + 1)"
            var references: [JSONValue] = []
            if let purl = purls[index] {
                references.append(["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": .string(purl.description)])
            }
            for vulnerability in findings[index] ?? [] {
                // SPDX says a finding only as a reference with a URL: an id with no public page
                // keeps OSV.dev's address for it, so that the finding is not lost.
                references.append([
                    "referenceCategory": "SECURITY", "referenceType": "advisory",
                    "referenceLocator": .string(vulnerability.page ?? "https://osv.dev/vulnerability/\(vulnerability.id)"),
                    "comment": .string(vulnerability.summaryLine),
                ])
            }
            packagesJSON.append([
                "SPDXID": .string(id), "name": .string(package.name), "versionInfo": .string(package.version),
                "downloadLocation": "NOASSERTION", "filesAnalyzed": false, "primaryPackagePurpose": "LIBRARY",
                "copyrightText": "NOASSERTION", "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                "sourceInfo": .string("\(package.ecosystem) package read from \(package.path) in layer \(package.layer)"),
                "externalRefs": .array(references),
            ])
            relationships.append(["spdxElementId": .string(imageID), "relationshipType": "CONTAINS", "relatedSpdxElement": .string(id)])
        }
        var creationInfo: [String: JSONValue] = [
            "created": .string(Self.timestamp(date)), "creators": [.string("Tool: fathom-\(FathomVersionInfo.version)")],
        ]
        // The report's warnings (what was not checked among them), where SPDX keeps a creator's remarks.
        if !warnings.isEmpty { creationInfo["comment"] = .string("fathom warnings: " + warnings.joined(separator: "; ")) }
        let safeName = artifact.name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "-" }
        let document: JSONValue = [
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": .string(artifact.name),
            "documentNamespace": .string("https://spdx.org/spdxdocs/fathom/\(String(safeName))-\(documentID.uuidString.lowercased())"),
            "creationInfo": .object(creationInfo),
            "packages": .array(packagesJSON),
            "relationships": .array(relationships),
        ]
        return try Self.encode(document)
    }
}
