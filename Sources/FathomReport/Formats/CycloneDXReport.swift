import FathomAdvisory
import FathomCore
import FathomInventory
public import Foundation

/// CycloneDX 1.5 JSON: the image as the metadata component, the OS and every package as
/// components with purls, and the findings as `vulnerabilities` with ratings (the advisory's
/// severity and every CVSS score), what they affect and the fix; a suppressed finding carries
/// an `analysis` (VEX).
extension ScanReport {
    public func cycloneDX(serialNumber: UUID = UUID(), at date: Date = Date()) throws -> String {
        let purls = packageURLs
        // bom-refs are unique: a purl, with the path when the same package sits in two places.
        let counts = Dictionary(grouping: purls.compactMap { $0?.description }, by: { $0 }).mapValues(\.count)
        let references: [String] = packages.indices.map { index in
            guard let purl = purls[index]?.description else { return "package-\(index)" }
            return counts[purl, default: 0] > 1 ? "\(purl)#\(packages[index].path)" : purl
        }
        let imageReference = imageURL?.description ?? "image:\(artifact.configDigest)"
        var components: [JSONValue] = []
        var osReference: String?
        if let os {
            let reference = "os:\(os.id)@\(os.versionID ?? "unknown")"
            osReference = reference
            components.append([
                "bom-ref": .string(reference), "type": "operating-system", "name": .string(os.id), "version": JSONValue(os.versionID),
                "description": JSONValue(os.prettyName),
            ])
        }
        for (index, package) in packages.enumerated() {
            var properties: [JSONValue] = [
                Self.property("fathom:package:ecosystem", package.ecosystem), Self.property("fathom:package:path", package.path),
                Self.property("fathom:package:layer", package.layer.description),
            ]
            if let source = package.source {
                properties.append(Self.property("fathom:package:source", source.name + (source.version.map { " \($0)" } ?? "")))
            }
            components.append([
                "bom-ref": .string(references[index]), "type": "library", "name": .string(package.name), "version": .string(package.version),
                "purl": JSONValue(purls[index]?.description), "properties": .array(properties),
            ])
        }
        let libraries = references.map(JSONValue.string)
        var dependencies: [JSONValue] = [["ref": .string(imageReference), "dependsOn": .array((osReference.map { [.string($0)] } ?? []) + libraries)]]
        if let osReference { dependencies.append(["ref": .string(osReference)]) }
        dependencies += libraries.map { ["ref": $0] }

        var imageProperties: [JSONValue] = [Self.property("fathom:image:configDigest", artifact.configDigest.description)]
        if let platform = artifact.platform { imageProperties.append(Self.property("fathom:image:platform", platform)) }
        for tag in artifact.repoTags { imageProperties.append(Self.property("fathom:image:repoTag", tag)) }
        var image: [String: JSONValue] = [
            "bom-ref": .string(imageReference), "type": "container", "name": .string(artifact.name),
            "purl": JSONValue(imageURL?.description), "properties": .array(imageProperties),
        ]
        if let digest = artifact.manifestDigest {
            image["version"] = .string(digest.description)
            image["hashes"] = [["alg": digest.algorithm == .sha256 ? "SHA-256" : "SHA-512", "content": .string(digest.encoded)]]
        }

        var metadata: [String: JSONValue] = [
            "timestamp": .string(Self.timestamp(date)),
            "tools": ["components": [["type": "application", "name": "fathom", "version": .string(FathomVersionInfo.version)]]],
            "component": .object(image),
        ]
        // The report's warnings (what was not checked among them): an SBOM with no vulnerabilities
        // is not a clean bill when the packages were not checked.
        if !warnings.isEmpty { metadata["properties"] = .array(warnings.map { Self.property("fathom:warning", $0) }) }
        let document: JSONValue = [
            "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "serialNumber": .string("urn:uuid:\(serialNumber.uuidString.lowercased())"),
            "version": 1,
            "metadata": .object(metadata),
            "components": .array(components),
            "dependencies": .array(dependencies),
            "vulnerabilities": .array(cycloneDXVulnerabilities(references: references)),
        ]
        return try Self.encode(document)
    }

    /// One entry per vulnerability id, affecting each component it was found in.
    /// The vendor's status as CycloneDX's analysis says it, when every package of the
    /// vulnerability has the same: the response the vendor gives (`update` when fixed,
    /// `will_not_fix`, or `can_not_fix` for a deferred fix or an unsupported release), with the
    /// vendor's words as the detail. No `state`: a version match does not find the flaw
    /// `exploitable`, which tools reading the analysis take as a triage verdict (Trivy and Grype
    /// write none); the vendor's own "under investigation" is `in_triage`.
    static func analysis(_ found: [ScanReport.Vulnerability]) -> JSONValue {
        guard let status = found.first?.status, found.allSatisfy({ $0.status == status }) else { return .null }
        var analysis: [String: JSONValue] = [:]
        if status == .underInvestigation { analysis["state"] = "in_triage" }
        switch status {
        case .fixed: analysis["response"] = ["update"]
        case .willNotFix: analysis["response"] = ["will_not_fix"]
        case .fixDeferred, .endOfLife: analysis["response"] = ["can_not_fix"]
        case .affected, .underInvestigation: break
        }
        let words = Set(found.compactMap(\.vendorStatus)).sorted()
        analysis["detail"] = .string(status.rawValue + (words.isEmpty ? "" : " (\(words.joined(separator: "; ")))"))
        return .object(analysis)
    }

    private func cycloneDXVulnerabilities(references: [String]) -> [JSONValue] {
        let indexes = packageIndexes
        var order: [String] = []
        var byID: [String: [Vulnerability]] = [:]
        for vulnerability in vulnerabilities {
            if byID[vulnerability.id] == nil { order.append(vulnerability.id) }
            byID[vulnerability.id, default: []].append(vulnerability)
        }
        var entries: [JSONValue] = order.map { id in
            let found = byID[id]!
            let first = found[0]
            var ratings: [JSONValue] = [
                ["source": ["name": .string(first.severitySource ?? first.source)], "severity": .string(Self.cycloneDXSeverity(first.severity))]
            ]
            ratings += first.cvss.map { score in
                [
                    "source": ["name": .string(score.attribution)], "score": .number(score.score), "severity": .string(Self.cycloneDXSeverity(Severity(score: score.score))),
                    "method": .string(Self.method(score.version)), "vector": .string(score.vector),
                ]
            }
            let affects: [JSONValue] = found.compactMap { vulnerability in
                guard let index = indexes[Self.packageKey(vulnerability)] else { return nil }
                var versions: [JSONValue] = [["version": .string(vulnerability.installedVersion), "status": "affected"]]
                if let fixed = vulnerability.fixedVersion { versions.append(["version": .string(fixed), "status": "unaffected"]) }
                return ["ref": .string(references[index]), "versions": .array(versions)]
            }
            let fixes = found.map { "\($0.package) \($0.installedVersion): " + ($0.fixedVersion.map { "upgrade to \($0)" } ?? $0.noFixWords) }
            // One CVE in several packages may come from several records (Debian's of openssl and
            // of nodejs): every record's id and page is kept.
            var seen = Set<String>()
            let aliases = found.flatMap(\.aliases).filter { seen.insert($0).inserted }
            let feedOf = Dictionary(found.flatMap { vulnerability in vulnerability.aliases.map { ($0, vulnerability.source) } }, uniquingKeysWith: { first, _ in first })
            let links = found.flatMap(\.links).filter { seen.insert($0).inserted }
            return [
                "bom-ref": .string(id), "id": .string(id),
                "source": ["name": .string(first.source), "url": JSONValue(first.page)],
                "references": .array(aliases.map { ["id": .string($0), "source": ["name": .string(Self.aliasSource($0, feed: feedOf[$0] ?? first.source))]] }),
                "ratings": .array(ratings),
                "description": JSONValue(first.title),
                "recommendation": .string(fixes.joined(separator: "; ")),
                "advisories": .array(links.map { ["url": .string($0)] }),
                "affects": .array(affects),
                "properties": .array(
                    [Self.property("fathom:vulnerability:status", first.status.rawValue)]
                        + (first.kev.map {
                            [
                                Self.property("fathom:kev:dateAdded", $0.dateAdded), Self.property("fathom:kev:dueDate", $0.dueDate ?? ""),
                                Self.property("fathom:kev:knownRansomware", $0.knownRansomware ? "true" : "false"),
                            ]
                        } ?? [])
                        + (first.epss.map {
                            [
                                Self.property("fathom:epss:score", String($0.score)), Self.property("fathom:epss:percentile", String($0.percentile)),
                                Self.property("fathom:epss:date", $0.date ?? ""),
                            ]
                        } ?? [])),
                "analysis": Self.analysis(found),
            ]
        }
        // Suppressed findings, with why (VEX as CycloneDX writes it).
        for (number, suppressed) in self.suppressed.enumerated() {
            let index = packages.firstIndex { $0.name == suppressed.package }
            var analysis: [String: JSONValue] = ["detail": .string(suppressed.reason)]
            if suppressed.reason.hasPrefix("vex: fixed") {
                analysis["state"] = "resolved"
            } else if suppressed.reason.hasPrefix("vex:") && suppressed.justification == "false_positive" {
                analysis["state"] = "false_positive"
            } else if suppressed.reason.hasPrefix("vex:") {
                analysis["state"] = "not_affected"
                if let justification = suppressed.justification.flatMap(Self.justification) { analysis["justification"] = .string(justification) }
            } else {
                // An ignore rule is a decision to accept the risk, not a claim that it is absent
                // nor that it is exploitable: no state, the response the rule's owner chose.
                analysis["response"] = ["will_not_fix"]
            }
            // Told apart from a live finding by more than its bom-ref: its severity, and what
            // suppressed it, by which rule (an ignore file's has no state of its own).
            var entry: [String: JSONValue] = [
                "bom-ref": .string("suppressed-\(number)-\(suppressed.id)"), "id": .string(suppressed.id),
                "analysis": .object(analysis),
                "affects": .array(index.map { [["ref": .string(references[$0])]] } ?? []),
                "properties": .array(
                    [Self.property("fathom:suppressed", suppressed.reason)] + (suppressed.rule.map { [Self.property("fathom:suppressed:rule", $0)] } ?? [])),
            ]
            if let severity = suppressed.severity { entry["ratings"] = [["severity": .string(Self.cycloneDXSeverity(severity))]] }
            entries.append(.object(entry))
        }
        return entries
    }

    static func property(_ name: String, _ value: String) -> JSONValue { ["name": .string(name), "value": .string(value)] }

    static func cycloneDXSeverity(_ severity: Severity) -> String { severity.rawValue.lowercased() }

    static func method(_ version: String) -> String {
        switch version {
        case "2.0": "CVSSv2"
        case "3.0": "CVSSv3"
        case "3.1": "CVSSv31"
        case "4.0": "CVSSv4"
        default: "other"
        }
    }

    /// Where an alias is published: NVD, GitHub, OSV, or for an id only fathom gives (the secdb's
    /// `ALPINE-v3.7-musl-CVE-…`, the tracker's `DEBIAN-CVE-…-bookworm`) the feed it came from.
    static func aliasSource(_ id: String, feed: String) -> String {
        if id.hasPrefix("CVE-") { return "NVD" }
        if id.hasPrefix("GHSA-") { return "GitHub" }
        return OSVPage.url(for: id) == nil ? feed : "OSV"
    }

    /// OpenVEX's justifications in CycloneDX's words.
    static func justification(_ openVEX: String) -> String? {
        switch openVEX {
        case "component_not_present", "vulnerable_code_not_present": "code_not_present"
        case "vulnerable_code_not_in_execute_path": "code_not_reachable"
        case "vulnerable_code_cannot_be_controlled_by_adversary": "protected_at_runtime"
        case "inline_mitigations_already_exist": "protected_by_mitigating_control"
        // A CycloneDX VEX's own words pass through.
        case "code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency", "requires_environment",
            "protected_by_compiler", "protected_at_runtime", "protected_at_perimeter", "protected_by_mitigating_control":
            openVEX
        default: nil
        }
    }
}
