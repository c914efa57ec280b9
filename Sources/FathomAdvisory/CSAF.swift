// CSAF 2.0 (https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html) as Red Hat and Rocky
// Linux (CIQ) publish it: a product tree whose leaves are packages (rpm NEVRA product ids, or
// purls) and platforms (a CPE per release), joined by `default_component_of` relationships; and
// per vulnerability a `product_status` over those joined ids, with remediations. Read here for
// advisories (`csaf_security_advisory`, `csaf_vex`) and, through the same tree, for VEX.
import FathomCore
import FathomVersion
import FathomInventory
import Foundation

/// A CSAF document's product tree: what each product id names.
struct CSAFProductTree {
    struct Product {
        var name: String?
        var purl: String?
        var cpe: String?
    }

    var products: [String: Product] = [:]
    /// A relationship's product id → (component, platform).
    var components: [String: (component: String, platform: String)] = [:]

    init(_ tree: [String: Any]) {
        func product(_ object: [String: Any]?, name: String?) {
            guard let object, let id = object["product_id"] as? String else { return }
            let helper = object["product_identification_helper"] as? [String: Any]
            products[id] = Product(name: object["name"] as? String ?? name, purl: helper?["purl"] as? String, cpe: helper?["cpe"] as? String)
        }
        func walk(_ branches: [[String: Any]]) {
            for branch in branches {
                product(branch["product"] as? [String: Any], name: branch["name"] as? String)
                walk(branch["branches"] as? [[String: Any]] ?? [])
            }
        }
        walk(tree["branches"] as? [[String: Any]] ?? [])
        for full in tree["full_product_names"] as? [[String: Any]] ?? [] { product(full, name: nil) }
        for relationship in tree["relationships"] as? [[String: Any]] ?? [] {
            guard let full = (relationship["full_product_name"] as? [String: Any])?["product_id"] as? String,
                let component = relationship["product_reference"] as? String,
                let platform = relationship["relates_to_product_reference"] as? String
            else { continue }
            components[full] = (component, platform)
        }
    }

    /// The purl a product id names, directly or as a component of a platform.
    func purl(_ id: String) -> String? {
        products[id]?.purl ?? components[id].flatMap { products[$0.component]?.purl }
    }

    /// The fathom namespace of a platform by its CPE: a release an ordinary image runs. Red Hat's
    /// extended tracks (EUS, AUS, E4S, TUS) are other releases and name none; ELS is the only
    /// support RHEL 6 has left and counts as it. CIQ's "Rocky Linux from CIQ" ships Rocky
    /// Linux's builds.
    static func namespace(cpe: String) -> String? {
        // cpe:/o:redhat:enterprise_linux:9::appstream, cpe:2.3:o:ciq:rocky_linux_from_ciq:9.2:…
        let parts = cpe.hasPrefix("cpe:2.3:") ? Array(cpe.split(separator: ":", omittingEmptySubsequences: false).dropFirst(2))
            : Array(cpe.dropFirst("cpe:/".count).split(separator: ":", omittingEmptySubsequences: false))
        guard parts.count >= 4 else { return nil }
        let (vendor, product, version) = (parts[1], parts[2], parts[3])
        guard let major = version.split(separator: ".").first, major.allSatisfy(\.isNumber), !major.isEmpty else { return nil }
        switch (vendor, product) {
        case ("redhat", "enterprise_linux"), ("redhat", "rhel_els"): return "Red Hat:\(major)"
        case ("rocky", "rocky"), ("rocky", "rocky_linux"), ("ciq", "rocky_linux_from_ciq"), ("ciq", "rocky_linux"): return "Rocky Linux:\(major)"
        case ("almalinux", "almalinux"): return "AlmaLinux:\(major)"
        default: return nil
        }
    }

    /// The rpm package and version a component names: an NEVRA product id
    /// (`libnghttp2-0:1.43.0-5.el9_2.1.aarch64`, source rpms left out), or a purl
    /// (`pkg:rpm/redhat/busybox?upstream=busybox`, no version: every version).
    func package(_ component: String) -> (name: String, version: String?)? {
        if let purl = products[component]?.purl, let parsed = try? PackageURL(parsing: purl) {
            guard parsed.type == "rpm", parsed.qualifiers["arch"] != "src" else { return nil }
            let version = parsed.version.map { version in parsed.qualifiers["epoch"].map { "\($0):\(version)" } ?? version }
            return (parsed.name, version)
        }
        return Self.nevra(component)
    }

    /// `name-epoch:version-release.arch` → (name, `epoch:version-release`); nil for a source rpm
    /// or a string that is not one.
    static func nevra(_ text: String) -> (name: String, version: String)? {
        guard let dot = text.lastIndex(of: "."), text[text.index(after: dot)...] != "src" else { return nil }
        let evr = text[..<dot]
        guard let releaseDash = evr.lastIndex(of: "-") else { return nil }
        let head = evr[..<releaseDash]
        guard let versionDash = head.lastIndex(of: "-") else { return nil }
        let name = head[..<versionDash]
        let epochVersion = head[head.index(after: versionDash)...]
        let release = evr[evr.index(after: releaseDash)...]
        guard !name.isEmpty, !epochVersion.isEmpty, !release.isEmpty, epochVersion.first?.isNumber == true else { return nil }
        // Epoch 0 is no epoch: the version as rpm databases give it.
        var version = "\(epochVersion)-\(release)"
        if version.hasPrefix("0:") { version.removeFirst(2) }
        return (String(name), version)
    }
}

extension AdvisoryImport {
    /// Whether a JSON document is CSAF 2.0.
    static func isCSAF(_ dictionary: [String: Any]) -> Bool {
        (dictionary["document"] as? [String: Any])?["csaf_version"] as? String == "2.0"
    }

    /// A CSAF security advisory or VEX document as one OSV record (its tracking id, the CVEs as
    /// aliases): per release and rpm package, the fixed version (`fixed`, `first_fixed`), or an
    /// open range for `known_affected` with the vendor's status from the remediations (Red Hat's
    /// "Will not fix" and "Out of support scope" under `no_fix_planned`, "Fix deferred" and
    /// "Affected" under `none_available`), or `under_investigation`. Platforms that are no
    /// release an image runs, and source rpms, are left out.
    public static func csaf(_ document: [String: Any], file: String) throws -> [OSVRecord] {
        let meta = document["document"] as? [String: Any] ?? [:]
        guard let id = (meta["tracking"] as? [String: Any])?["id"] as? String, !id.isEmpty else {
            throw FathomError(.invalidInput, "a CSAF document without document.tracking.id", path: file)
        }
        let tree = CSAFProductTree(document["product_tree"] as? [String: Any] ?? [:])
        struct Key: Hashable { var namespace: String; var name: String }
        var fixed: [Key: String] = [:]
        var open: [Key: (status: Finding.Status, words: String)] = [:]
        var cves: [String] = []
        // The vendor's word (Red Hat's "Important"): per vulnerability, else the document's.
        var impact: String?
        var vectors: [OSVRecord.Severity] = []
        let rpm = RpmVersion()
        for vulnerability in document["vulnerabilities"] as? [[String: Any]] ?? [] {
            if let cve = vulnerability["cve"] as? String, !cves.contains(cve) { cves.append(cve) }
            for threat in vulnerability["threats"] as? [[String: Any]] ?? [] where threat["category"] as? String == "impact" {
                impact = impact ?? threat["details"] as? String
            }
            for score in vulnerability["scores"] as? [[String: Any]] ?? [] {
                for (key, type) in [("cvss_v3", "CVSS_V3"), ("cvss_v2", "CVSS_V2")] {
                    guard let vector = (score[key] as? [String: Any])?["vectorString"] as? String else { continue }
                    let entry = OSVRecord.Severity(type: type, score: vector)
                    if !vectors.contains(entry) { vectors.append(entry) }
                }
            }
            var remediation: [String: (category: String, details: String)] = [:]
            for entry in vulnerability["remediations"] as? [[String: Any]] ?? [] {
                guard let category = entry["category"] as? String else { continue }
                for product in entry["product_ids"] as? [String] ?? [] {
                    remediation[product] = (category, entry["details"] as? String ?? category)
                }
            }
            let status = vulnerability["product_status"] as? [String: Any] ?? [:]
            func each(_ kinds: [String], _ body: (String, Key, String?) throws -> Void) rethrows {
                for kind in kinds {
                    for product in status[kind] as? [String] ?? [] {
                        guard let (component, platform) = tree.components[product],
                            let namespace = tree.products[platform]?.cpe.flatMap(CSAFProductTree.namespace),
                            let package = tree.package(component)
                        else { continue }
                        try body(product, Key(namespace: namespace, name: package.name), package.version)
                    }
                }
            }
            try each(["fixed", "first_fixed"]) { _, key, version in
                guard let version else { return }
                if let known = fixed[key], try rpm.compare(known, version) != .less { return }
                fixed[key] = version
            }
            each(["known_affected"]) { product, key, _ in
                let words = remediation[product]?.details ?? "Affected"
                let vendorStatus: Finding.Status =
                    switch words.lowercased() {
                    case "will not fix": .willNotFix
                    case "out of support scope": .endOfLife
                    case "fix deferred": .fixDeferred
                    default: remediation[product]?.category == "no_fix_planned" ? .willNotFix : .affected
                    }
                open[key] = (vendorStatus, words)
            }
            each(["under_investigation"]) { _, key, _ in open[key] = open[key] ?? (.underInvestigation, "Under investigation") }
        }
        impact = impact ?? (meta["aggregate_severity"] as? [String: Any])?["text"] as? String
        var affected: [OSVRecord.Affected] = []
        for (key, version) in fixed.sorted(by: { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }) {
            var entry = OSVRecord.Affected(
                package: .init(ecosystem: key.namespace, name: key.name),
                ranges: [.init(type: "ECOSYSTEM", events: [.init(introduced: "0"), .init(fixed: version)])])
            if let impact { entry.databaseSpecific = .object(["severity": .string(impact)]) }
            affected.append(entry)
        }
        for (key, state) in open.sorted(by: { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }) where fixed[key] == nil {
            var entry = OSVRecord.Affected(
                package: .init(ecosystem: key.namespace, name: key.name), ranges: [.init(type: "ECOSYSTEM", events: [.init(introduced: "0")])])
            var specific: [String: JSONValue] = ["fathom_status": .string(state.status.rawValue), "vendor_status": .string(state.words)]
            if let impact { specific["severity"] = .string(impact) }
            entry.databaseSpecific = .object(specific)
            affected.append(entry)
        }
        let title = meta["title"] as? String
        return [OSVRecord(id: id, aliases: cves.filter { $0 != id }, summary: title, severity: vectors.isEmpty ? nil : vectors, affected: affected)]
    }
}
