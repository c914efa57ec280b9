// VEX documents in the three forms in use: OpenVEX 0.2 (https://github.com/openvex/spec), CycloneDX
// VEX (`vulnerabilities[].analysis`, CycloneDX 1.4 to 1.6) and CSAF 2.0 VEX (`product_status` over a
// `product_tree`). Products and subcomponents are compared as package URLs, never as substrings.
import FathomCore
public import FathomInventory
import Foundation

/// One statement of a VEX document: a vulnerability's status in some products.
public struct VEXStatement: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable {
        case notAffected = "not_affected"
        case fixed
        case affected
        case underInvestigation = "under_investigation"

        /// Whether the status takes a finding out of the report (VEX says it does not apply).
        public var suppresses: Bool { self == .notAffected || self == .fixed }
    }

    /// A product the statement is about: a package (a purl), or the image itself (a `pkg:oci`
    /// purl, or a reference such as `registry/team/app:1`) with the packages it names.
    public struct Product: Sendable, Hashable {
        /// The product as the document wrote it.
        public var id: String
        /// The product as a purl, when it is one.
        public var purl: PackageURL?
        /// The subcomponents given as purls.
        public var subcomponents: [PackageURL]
        /// Whether the document listed subcomponents at all (a list of which none is a purl
        /// names no package fathom can compare, so it applies to none, not to all).
        public var listsSubcomponents: Bool

        public init(id: String, purl: PackageURL? = nil, subcomponents: [PackageURL] = [], listsSubcomponents: Bool = false) {
            self.id = id
            self.purl = purl ?? (id.hasPrefix("pkg:") ? try? PackageURL(parsing: id) : nil)
            self.subcomponents = subcomponents
            self.listsSubcomponents = listsSubcomponents || !subcomponents.isEmpty
        }
    }

    /// The vulnerability's id (`CVE-…`, `GHSA-…`) and the other ids the document gives it.
    public var vulnerability: String
    public var aliases: [String]
    public var status: Status
    /// The justification or impact statement the document gives (`vulnerable_code_not_present`…).
    public var justification: String?
    public var products: [Product]
    /// Where the statement comes from, for a suppressed finding's rule: `vex.json (OpenVEX) statement 2`.
    public var origin: String

    public init(
        vulnerability: String, aliases: [String] = [], status: Status, justification: String? = nil, products: [Product], origin: String
    ) {
        self.vulnerability = vulnerability
        self.aliases = aliases
        self.status = status
        self.justification = justification
        self.products = products
        self.origin = origin
    }

    /// Whether the statement is about `ids` (a finding's id and aliases).
    func names(_ ids: Set<String>) -> Bool {
        ids.contains(vulnerability) || aliases.contains(where: ids.contains)
    }

    /// Whether the statement covers the package `purl` in `image`.
    public func covers(_ purl: PackageURL?, in image: ImageIdentity?) -> Bool {
        products.contains { product in
            if let image, image.isNamed(by: product) {
                guard product.listsSubcomponents else { return true }
                guard let purl else { return false }
                return product.subcomponents.contains { $0.vexMatches(purl) }
            }
            guard let statement = product.purl, let purl, statement.type != "oci" else { return false }
            return statement.vexMatches(purl)
        }
    }
}

/// The image a scan is of, as VEX products name images: its repository, tag and digests.
public struct ImageIdentity: Sendable, Hashable {
    /// `host[:port]`, or nil for an image with no registry (an OCI layout, an archive).
    public var registry: String?
    public var repository: String
    public var tag: String?
    /// The manifest digest and, for an image picked from an index, the index's.
    public var digests: [String]

    public init(registry: String?, repository: String, tag: String?, digests: [String]) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digests = digests
    }

    /// The image named by `name` as fathom names images (`host/repo:tag`, `repo@sha256:…`).
    public init(name: String, digests: [String]) {
        let parsed = Self.split(name)
        self.init(registry: parsed.registry, repository: parsed.repository, tag: parsed.tag, digests: digests)
    }

    /// Whether `product` is this image: a `pkg:oci` purl whose name is the repository's last part
    /// and whose version (a digest), `repository_url` and `tag`, where given, are this image's;
    /// or a reference (`[host/]repo[:tag][@digest]`) to it.
    public func isNamed(by product: VEXStatement.Product) -> Bool {
        if let purl = product.purl {
            guard purl.type == "oci" else { return false }
            // A digest names one image wherever it is kept and whatever it is called here
            // (`oci:DIR:tag`, an archive): a statement about pkg:oci/alpine@sha256:… covers it.
            if let version = purl.version { return digests.contains(version) }
            let last = repository.split(separator: "/").last.map(String.init) ?? repository
            guard purl.name.lowercased() == last.lowercased() else { return false }
            if let url = purl.qualifiers["repository_url"] {
                let other = Self.split(url + ":x")
                guard Self.sameRepository(other.repository, repository),
                    other.registry == nil || registry == nil || Self.sameRegistry(other.registry!, registry!)
                else { return false }
            }
            if let wanted = purl.qualifiers["tag"], wanted != tag { return false }
            // A name and a tag alone could be any registry's: a digest or the repository must be given.
            return purl.version != nil || purl.qualifiers["repository_url"] != nil
        }
        let other = Self.split(product.id)
        if let digest = other.digest, digests.contains(digest) { return true }
        guard !other.repository.isEmpty, Self.sameRepository(other.repository, repository) else { return false }
        if let host = other.registry, let registry, !Self.sameRegistry(host, registry) { return false }
        if let digest = other.digest { return digests.contains(digest) }
        guard let wanted = other.tag else { return false }  // a bare repository names no one image
        return wanted == tag
    }

    static func split(_ name: String) -> (registry: String?, repository: String, tag: String?, digest: String?) {
        var rest = Substring(name)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        var registry: String?
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        return (registry, String(rest), tag, digest)
    }

    static func sameRegistry(_ a: String, _ b: String) -> Bool {
        let hub: Set<String> = ["docker.io", "index.docker.io", "registry-1.docker.io"]
        return a.lowercased() == b.lowercased() || (hub.contains(a.lowercased()) && hub.contains(b.lowercased()))
    }

    static func sameRepository(_ a: String, _ b: String) -> Bool {
        func plain(_ name: String) -> String { name.hasPrefix("library/") ? String(name.dropFirst("library/".count)) : name }
        return plain(a.lowercased()) == plain(b.lowercased())
    }
}

extension PackageURL {
    /// Whether this purl, from a VEX statement, names the package `other` (a finding's): type,
    /// namespace and name equal; the version equal when this one gives one; each qualifier this
    /// one gives equal in `other` (`arch=src` and `upstream` name the source package; `distro`
    /// may give fewer version parts). Never a substring.
    public func vexMatches(_ other: PackageURL) -> Bool {
        guard type.lowercased() == other.type.lowercased() else { return false }
        guard Self.sameNamespace(namespace, other.namespace, type: type.lowercased()) else { return false }
        let source = other.qualifiers["upstream"].map { String($0.split(separator: "@").first ?? "") } ?? other.name
        // Red Hat names a source package `pkg:rpm/redhat/NAME?arch=src`: it covers the binaries built from it.
        let namesSource = qualifiers["arch"] == "src"
        guard Self.sameName(namesSource ? source : other.name, name, type: type.lowercased()) else { return false }
        if let version {
            if namesSource {
                guard other.qualifiers["upstream"].flatMap({ $0.split(separator: "@").dropFirst().first.map(String.init) }) ?? other.version == version
                else { return false }
            } else if version != other.version {
                return false
            }
        }
        for (key, value) in qualifiers {
            switch key {
            case "arch" where value == "src": continue
            case "upstream":
                guard value.split(separator: "@").first.map(String.init) == source else { return false }
            case "distro":
                guard let theirs = other.qualifiers["distro"]?.lowercased() else { return false }
                let mine = value.lowercased()
                guard theirs == mine || theirs.hasPrefix(mine + ".") || mine.hasPrefix(theirs + ".") else { return false }
            default:
                guard other.qualifiers[key] == value else { return false }
            }
        }
        return true
    }

    static func sameNamespace(_ a: String?, _ b: String?, type: String) -> Bool {
        // Red Hat writes its RPMs as pkg:rpm/redhat/…; an image's os-release says rhel.
        func plain(_ namespace: String?) -> String {
            let lowered = (namespace ?? "").lowercased()
            return type == "rpm" && lowered == "rhel" ? "redhat" : lowered
        }
        return plain(a) == plain(b)
    }

    static func sameName(_ a: String, _ b: String, type: String) -> Bool {
        switch type {
        case "pypi":
            func normal(_ name: String) -> String {
                name.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
            }
            return normal(a) == normal(b)
        case "nuget", "golang", "npm": return a.lowercased() == b.lowercased()
        default: return a == b
        }
    }
}

/// Reads the statements of a VEX document in any of the three forms.
public enum VEXDocument {
    /// The statements of the document at `file` (`bytes`): OpenVEX, CycloneDX or CSAF; an
    /// error names the file and what it is not. `warn` hears of statements that cannot apply.
    public static func statements(_ bytes: [UInt8], file: String, warn: (String) -> Void = { _ in }) throws -> [VEXStatement] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw FathomError(.invalidInput, "a VEX document is JSON (OpenVEX, CycloneDX or CSAF), and this is not", path: file)
        }
        guard let document = parsed as? [String: Any] else {
            throw FathomError(.invalidInput, "not a VEX document (a JSON object was expected)", path: file)
        }
        if document["statements"] != nil { return try openVEX(document, file: file, warn: warn) }
        if (document["bomFormat"] as? String) == "CycloneDX" { return try cycloneDX(document, file: file, warn: warn) }
        if let meta = document["document"] as? [String: Any], meta["csaf_version"] != nil { return try csaf(document, file: file, warn: warn) }
        throw FathomError(
            .invalidInput, "not a VEX document: neither OpenVEX (statements), CycloneDX (bomFormat) nor CSAF (document.csaf_version)", path: file)
    }

    // MARK: OpenVEX

    static func openVEX(_ document: [String: Any], file: String, warn: (String) -> Void) throws -> [VEXStatement] {
        guard let statements = document["statements"] as? [[String: Any]] else {
            throw FathomError(.invalidInput, "OpenVEX: statements is not a list of statements", path: file)
        }
        var read: [VEXStatement] = []
        for (number, statement) in statements.enumerated() {
            let origin = "\(file) (OpenVEX) statement \(number + 1)"
            let vulnerability = statement["vulnerability"] as? [String: Any]
            guard let name = vulnerability?["name"] as? String ?? vulnerability?["@id"] as? String ?? statement["vulnerability"] as? String
            else {
                throw FathomError(.invalidInput, "OpenVEX statement \(number + 1) names no vulnerability", path: file)
            }
            guard let word = statement["status"] as? String, let status = VEXStatement.Status(rawValue: word) else {
                throw FathomError(
                    .invalidInput, "OpenVEX statement \(number + 1): status '\(statement["status"] ?? "")' is not not_affected, affected, fixed or under_investigation",
                    path: file)
            }
            let products = (statement["products"] as? [Any] ?? []).compactMap(openVEXProduct)
            if products.isEmpty {
                warn("\(origin) for \(name) names no product: it applies to nothing")
            }
            if status == .notAffected, statement["justification"] == nil, statement["impact_statement"] == nil {
                warn("\(origin) for \(name): not_affected without a justification or impact_statement, which OpenVEX requires: applied all the same")
            }
            read.append(
                VEXStatement(
                    vulnerability: name, aliases: vulnerability?["aliases"] as? [String] ?? [], status: status,
                    justification: statement["justification"] as? String ?? statement["impact_statement"] as? String, products: products,
                    origin: origin))
        }
        return read
    }

    /// A product: `{"@id": …, "identifiers": {"purl": …}, "subcomponents": [...]}`, or a bare string (OpenVEX 0.0.x).
    static func openVEXProduct(_ value: Any) -> VEXStatement.Product? {
        if let id = value as? String { return VEXStatement.Product(id: id) }
        guard let object = value as? [String: Any] else { return nil }
        func purl(_ component: [String: Any]) -> PackageURL? {
            let text = (component["identifiers"] as? [String: Any])?["purl"] as? String ?? component["@id"] as? String
            return text.flatMap { $0.hasPrefix("pkg:") ? try? PackageURL(parsing: $0) : nil }
        }
        guard let id = object["@id"] as? String ?? ((object["identifiers"] as? [String: Any])?["purl"] as? String) else { return nil }
        let listed = object["subcomponents"] as? [Any] ?? []
        let subcomponents = listed.compactMap { ($0 as? [String: Any]).flatMap(purl) ?? ($0 as? String).flatMap { try? PackageURL(parsing: $0) } }
        return VEXStatement.Product(id: id, purl: purl(object), subcomponents: subcomponents, listsSubcomponents: !listed.isEmpty)
    }

    // MARK: CycloneDX

    static func cycloneDX(_ document: [String: Any], file: String, warn: (String) -> Void) throws -> [VEXStatement] {
        // bom-ref → purl for every component, nested ones too; the BOM's own subject is the image.
        var purls: [String: String] = [:]
        func collect(_ components: [[String: Any]]) {
            for component in components {
                if let ref = component["bom-ref"] as? String, let purl = component["purl"] as? String { purls[ref] = purl }
                collect(component["components"] as? [[String: Any]] ?? [])
            }
        }
        collect(document["components"] as? [[String: Any]] ?? [])
        let subject = (document["metadata"] as? [String: Any])?["component"] as? [String: Any]
        let subjectRef = subject?["bom-ref"] as? String
        let subjectPurl = subject?["purl"] as? String
        var read: [VEXStatement] = []
        let vulnerabilities = document["vulnerabilities"] as? [[String: Any]] ?? []
        for (number, vulnerability) in vulnerabilities.enumerated() {
            guard let id = vulnerability["id"] as? String else { continue }
            let origin = "\(file) (CycloneDX VEX) vulnerability \(number + 1)"
            guard let analysis = vulnerability["analysis"] as? [String: Any], let state = analysis["state"] as? String else { continue }
            let status: VEXStatement.Status
            switch state {
            case "not_affected", "false_positive": status = .notAffected
            case "resolved", "resolved_with_pedigree": status = .fixed
            case "exploitable": status = .affected
            case "in_triage": status = .underInvestigation
            default:
                throw FathomError(.invalidInput, "CycloneDX vulnerability \(id): analysis.state '\(state)' is not a CycloneDX state", path: file)
            }
            var products: [VEXStatement.Product] = []
            for affected in vulnerability["affects"] as? [[String: Any]] ?? [] {
                guard var ref = affected["ref"] as? String else { continue }
                // A BOM-link (urn:cdx:serial/version#bom-ref) names a component of an SBOM by its bom-ref.
                if ref.hasPrefix("urn:cdx:"), let hash = ref.firstIndex(of: "#") {
                    ref = String(ref[ref.index(after: hash)...]).removingPercentEncoding ?? String(ref[ref.index(after: hash)...])
                }
                if ref == subjectRef || (subjectPurl != nil && ref == subjectPurl) {
                    products.append(VEXStatement.Product(id: subjectPurl ?? subject?["name"] as? String ?? ref))
                } else if let purl = purls[ref] ?? (ref.hasPrefix("pkg:") ? ref : nil) {
                    products.append(VEXStatement.Product(id: purl))
                } else {
                    warn("\(origin) for \(id): affects \(ref), which is neither a purl nor a component of the document: it applies to nothing")
                }
            }
            // A false positive suppresses as not_affected does, and keeps its word (re-emitted so).
            let justification = state == "false_positive" ? "false_positive" : analysis["justification"] as? String ?? analysis["detail"] as? String
            read.append(
                VEXStatement(
                    vulnerability: id, aliases: [], status: status, justification: justification, products: products, origin: origin))
        }
        // An SBOM, or a scanner's CycloneDX report, given as VEX states nothing: said, not
        // passed over (it suppressed nothing without a word).
        if read.isEmpty {
            warn(
                "\(file): a CycloneDX document with no VEX statement (\(vulnerabilities.count) vulnerabilit\(vulnerabilities.count == 1 ? "y" : "ies"), "
                    + "none with an analysis.state): it suppresses nothing; an SBOM or a scan report is not VEX")
        }
        return read
    }

    // MARK: CSAF 2.0

    static func csaf(_ document: [String: Any], file: String, warn: (String) -> Void) throws -> [VEXStatement] {
        // product_id → purl, from branches, full_product_names and relationships (a component of a platform).
        let tree = CSAFProductTree(document["product_tree"] as? [String: Any] ?? [:])
        let kinds: [(String, VEXStatement.Status)] = [
            ("known_not_affected", .notAffected), ("fixed", .fixed), ("first_fixed", .fixed), ("known_affected", .affected),
            ("first_affected", .affected), ("last_affected", .affected), ("under_investigation", .underInvestigation),
        ]
        var read: [VEXStatement] = []
        for (number, vulnerability) in (document["vulnerabilities"] as? [[String: Any]] ?? []).enumerated() {
            let ids = (vulnerability["ids"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            guard let id = vulnerability["cve"] as? String ?? ids.first else { continue }
            let origin = "\(file) (CSAF VEX) vulnerability \(number + 1)"
            let status = vulnerability["product_status"] as? [String: Any] ?? [:]
            // A flag's label (vulnerable_code_not_present…) justifies known_not_affected for its products.
            var labels: [String: String] = [:]
            for flag in vulnerability["flags"] as? [[String: Any]] ?? [] {
                guard let label = flag["label"] as? String else { continue }
                for id in flag["product_ids"] as? [String] ?? [] { labels[id] = label }
            }
            for (key, kind) in kinds {
                let productIDs = status[key] as? [String] ?? []
                guard !productIDs.isEmpty else { continue }
                var byJustification: [String?: [VEXStatement.Product]] = [:]
                var unnamed = 0
                for productID in productIDs {
                    guard let purl = tree.purl(productID) else {
                        unnamed += 1
                        continue
                    }
                    byJustification[labels[productID], default: []].append(VEXStatement.Product(id: purl))
                }
                if unnamed > 0 && kind.suppresses {
                    warn("\(origin) for \(id): \(unnamed) \(key) product\(unnamed == 1 ? " has" : "s have") no purl in the product tree: they apply to nothing")
                }
                for (justification, products) in byJustification.sorted(by: { ($0.key ?? "") < ($1.key ?? "") }) {
                    read.append(
                        VEXStatement(
                            vulnerability: id, aliases: ids.filter { $0 != id }, status: kind, justification: justification,
                            products: products, origin: origin))
                }
            }
        }
        return read
    }
}
