import FathomCore
import Foundation

/// The packages and OS a CycloneDX or SPDX JSON SBOM lists (`fathom scan sbom:FILE`), named by
/// their purls, so that an SBOM another tool wrote is matched like an image's inventory.
public struct SBOMInventory: Sendable {
    /// `CycloneDX 1.5`, `SPDX-2.3`…
    public var format: String
    /// The media type of the document.
    public var mediaType: String
    /// The subject the SBOM describes (its metadata component, or the package it DESCRIBES).
    public var subject: String?
    /// The manifest digest of the image the SBOM is of, as it says (its subject's `pkg:oci`
    /// purl or digest version): VEX statements about that image apply to its packages.
    public var subjectDigest: String?
    public var os: OSRelease?
    public var packages: [Package]
    /// Components that could not be matched, summed up.
    public var warnings: [String]

    /// Reads `bytes`, the SBOM at `path` (named in errors and as the packages' path when the
    /// SBOM does not say where a package was found). `os` (`ID:VERSION`) overrides the OS the
    /// SBOM names.
    public static func read(_ bytes: [UInt8], path: String, os override: String? = nil) throws -> SBOMInventory {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw FathomError(
                .invalidInput, "not a JSON document (a CycloneDX or SPDX JSON SBOM was expected)\(reason.map { ": \($0)" } ?? "")", path: path)
        }
        guard let document = object as? [String: Any] else {
            throw FathomError(.invalidInput, "not a CycloneDX or SPDX JSON SBOM: the document is not an object", path: path)
        }
        var inventory: SBOMInventory
        if document["bomFormat"] as? String == "CycloneDX" {
            inventory = cycloneDX(document, path: path)
        } else if let version = document["spdxVersion"] as? String {
            inventory = spdx(document, version: version, path: path)
        } else {
            throw FathomError(.invalidInput, "not a CycloneDX (bomFormat) or SPDX (spdxVersion) JSON SBOM", path: path)
        }
        if let override {
            let given = try osRelease(override: override)
            // The SBOM's own release, where it names one, differing from --os is said: matching
            // its packages against another release's advisories is a choice to see made. Purls
            // of two releases (an error without --os) are what --os is there to settle: no word.
            let own = try? inventory.os ?? osFromDistro(inventory.purls, path: path)
            if let own = own ?? nil, let ownNamespace = own.namespace, ownNamespace != given.namespace {
                inventory.warnings.append(
                    "\(path): the SBOM names \(ownNamespace), and --os \(override) matches its packages against \(given.namespace ?? override) instead")
            }
            inventory.os = given
        } else if inventory.os == nil {
            inventory.os = try osFromDistro(inventory.purls, path: path)
        }
        inventory.purls = []
        inventory.warnOfMissingSources(path: path)
        return inventory
    }

    /// The OS an `--os ID:VERSION` (or `ID-VERSION`) names.
    public static func osRelease(override: String) throws -> OSRelease {
        let separator = override.firstIndex(of: ":") ?? override.lastIndex(of: "-")
        let parts = separator.map { [String(override[..<$0]), String(override[override.index(after: $0)...])] } ?? []
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw FathomError(.invalidInput, "--os takes ID:VERSION (debian:12, alpine:3.20), not '\(override)'")
        }
        return OSRelease.make(id: parts[0].lowercased(), versionID: parts[1], prettyName: nil, idLike: nil, source: "--os")
    }

    /// The purls read, kept until the OS is settled.
    private var purls: [PackageURL] = []

    private init(format: String, mediaType: String) {
        self.format = format
        self.mediaType = mediaType
        packages = []
        warnings = []
    }

    static func cycloneDX(_ document: [String: Any], path: String) -> SBOMInventory {
        var inventory = SBOMInventory(format: "CycloneDX \(document["specVersion"] as? String ?? "")", mediaType: "application/vnd.cyclonedx+json")
        let metadata = document["metadata"] as? [String: Any]
        let subject = metadata?["component"] as? [String: Any]
        inventory.subject = subject?["name"] as? String
        inventory.subjectDigest = Self.imageDigest(purl: subject?["purl"] as? String, version: subject?["version"] as? String)
        var pending = (document["components"] as? [[String: Any]]) ?? []
        var unmatched: [String: Int] = [:]
        // An SBOM of an OS (or a tool that puts the OS there) names it as the subject.
        if let subject, subject["type"] as? String == "operating-system" {
            pending.append(subject)
        }
        var listed = Set<String>()
        while let component = pending.popLast() {
            pending += (component["components"] as? [[String: Any]]) ?? []
            if component["type"] as? String == "operating-system", let name = component["name"] as? String {
                inventory.os = OSRelease.make(
                    id: name.lowercased(), versionID: component["version"] as? String, prettyName: component["description"] as? String,
                    idLike: nil, source: path)
                continue
            }
            let properties = (component["properties"] as? [[String: Any]]) ?? []
            func property(_ name: String) -> String? {
                properties.first { $0["name"] as? String == name }?["value"] as? String
            }
            if let purl = component["purl"] as? String { listed.insert(purl) }
            // Trivy keeps an OS package's source in properties, not in the purl's `upstream`.
            var source: Package.Source?
            if let name = property("aquasecurity:trivy:SrcName"), !name.isEmpty {
                let version = property("aquasecurity:trivy:SrcVersion").map { version in
                    (property("aquasecurity:trivy:SrcEpoch").flatMap { $0 == "0" || $0.isEmpty ? nil : "\($0):" } ?? "") + version
                        + (property("aquasecurity:trivy:SrcRelease").flatMap { $0.isEmpty ? nil : "-\($0)" } ?? "")
                }
                source = Package.Source(name: name, version: version)
            }
            inventory.add(
                purl: component["purl"] as? String, version: component["version"] as? String, path: property("fathom:package:path") ?? path,
                source: source, unmatched: &unmatched)
        }
        // A library the SBOM is of (not an application's own project, nor the image) is matched
        // when fathom matches its purl's type, once if `components` lists it too.
        if let subject, ["library", "framework"].contains(subject["type"] as? String ?? ""), let purl = subject["purl"] as? String,
            Self.namesAPackage(purl), !listed.contains(purl)
        {
            inventory.add(purl: purl, path: path, unmatched: &unmatched)
        }
        inventory.summarise(unmatched, path: path)
        return inventory
    }

    /// Debian's and Alpine's advisories name source packages (glibc, openssl), and a package
    /// whose SBOM entry names no source is matched by its own name (libc6, libcrypto3): so an
    /// SBOM whose deb or apk packages name no source at all (neither a purl's `upstream` nor
    /// Trivy's `SrcName`) would miss most of their findings without a word. Real systems always
    /// have binaries built from another source, so none naming one means the writer left it out.
    private mutating func warnOfMissingSources(path: String) {
        for type in ["deb", "apk"] {
            let listed = packages.filter { $0.ecosystem == type }
            guard listed.count >= 5, listed.allSatisfy({ ($0.source?.name ?? $0.name) == $0.name }) else { continue }
            warnings.append(
                "\(path): none of its \(listed.count) \(type) packages names its source package (a purl's `upstream` qualifier, or Trivy's "
                    + "aquasecurity:trivy:SrcName): each is matched by its own name, and \(type == "deb" ? "Debian's" : "Alpine's") advisories "
                    + "name source packages, so findings in packages built from another source (\(type == "deb" ? "libc6 from glibc" : "libcrypto3 from openssl")) are missed")
        }
    }

    static func spdx(_ document: [String: Any], version: String, path: String) -> SBOMInventory {
        var inventory = SBOMInventory(format: version, mediaType: "application/spdx+json")
        let packages = (document["packages"] as? [[String: Any]]) ?? []
        let described = Set(
            ((document["relationships"] as? [[String: Any]]) ?? []).filter { $0["relationshipType"] as? String == "DESCRIBES" }
                .compactMap { $0["relatedSpdxElement"] as? String })
        var unmatched: [String: Int] = [:]
        for package in packages {
            let purpose = package["primaryPackagePurpose"] as? String
            let references = (package["externalRefs"] as? [[String: Any]]) ?? []
            let purl = references.first { $0["referenceType"] as? String == "purl" }?["referenceLocator"] as? String
            // What the document DESCRIBES is its subject (the image, a directory), unless its purl
            // names a package: Syft describes each package of an SBOM of packages.
            if purpose == "CONTAINER" || described.contains(package["SPDXID"] as? String ?? "") && !(purl.map(Self.namesAPackage) ?? false) {
                if inventory.subject == nil {
                    inventory.subject = package["name"] as? String
                    inventory.subjectDigest = Self.imageDigest(purl: purl, version: package["versionInfo"] as? String)
                }
                continue
            }
            if purpose == "OPERATING_SYSTEM" || purpose == "OPERATING-SYSTEM", let name = package["name"] as? String {
                inventory.os = OSRelease.make(
                    id: name.lowercased(), versionID: package["versionInfo"] as? String, prettyName: package["description"] as? String,
                    idLike: nil, source: path)
                continue
            }
            // Trivy's SPDX names an OS package's source in `sourceInfo`: "built package from: glibc 2.36-9+deb12u4".
            var source: Package.Source?
            if let info = package["sourceInfo"] as? String, info.hasPrefix("built package from: ") {
                let words = info.dropFirst("built package from: ".count).split(separator: " ")
                if let name = words.first { source = Package.Source(name: String(name), version: words.count > 1 ? String(words[1]) : nil) }
            }
            inventory.add(purl: purl, version: package["versionInfo"] as? String, path: path, source: source, unmatched: &unmatched)
        }
        inventory.summarise(unmatched, path: path)
        return inventory
    }

    /// The digest of an image named by `purl` (`pkg:oci/NAME@sha256:…`), or a subject's version
    /// that is a digest, as Trivy and fathom write an image's SBOM; nil otherwise.
    static func imageDigest(purl: String?, version: String?) -> String? {
        // Not a digest here is no image digest, not an error: the subject may be anything.
        func digest(_ text: String?) -> String? { text.flatMap { try? Digest(parsing: $0) }.map(\.description) }
        if let purl, let parsed = try? PackageURL(parsing: purl), parsed.type == "oci", let found = digest(parsed.version) { return found }
        return digest(version)
    }

    /// Whether `purl` names a package fathom matches (not the image, `pkg:oci`, nor a
    /// repository or project, `pkg:github`, `pkg:swid`, as GitHub's and Microsoft's SBOMs
    /// describe their root): what a document describes is a package only then.
    static func namesAPackage(_ purl: String) -> Bool {
        guard let parsed = try? PackageURL(parsing: purl) else { return false }  // the subject: an unreadable purl there is no package
        return parsed.package(path: "") != nil
    }

    /// Adds the package `text` names; `version` is the component's own version field (taken
    /// when the purl has none, as Syft reads it), and `source`, when the SBOM gives it apart
    /// from the purl (Trivy's properties), is its source package.
    private mutating func add(
        purl text: String?, version listed: String? = nil, path: String, source: Package.Source? = nil, unmatched: inout [String: Int]
    ) {
        guard let text else {
            unmatched["no purl", default: 0] += 1
            return
        }
        do {
            var purl = try PackageURL(parsing: text)
            let listed = listed.flatMap { $0.isEmpty ? nil : $0 }
            if purl.version == nil {
                purl.version = listed
            } else if let listed, let written = purl.version, listed != written, !listed.hasSuffix(":" + written),
                purl.package(path: path)?.version != listed
            {
                warnings.append("\(path): \(purl.name)'s purl says version \(written) and its version field \(listed): the purl's is matched")
            }
            guard var package = purl.package(path: path) else {
                // No version anywhere: kept with none, so that coverage names it as a gap (no
                // version given, or a type fathom has no advisories for), not a silent clean report.
                let version = purl.version ?? ""
                if version.isEmpty,
                    let typed = PackageURL(type: purl.type, namespace: purl.namespace, name: purl.name, version: "", qualifiers: purl.qualifiers)
                        .package(path: path)
                {
                    purls.append(purl)
                    packages.append(typed)
                    return
                }
                // Kept under its purl type, so that coverage names it as a gap (an ecosystem
                // fathom has no advisories for) and the verdict cannot call it clean.
                let name = purl.namespace.map { "\($0)/\(purl.name)" } ?? purl.name
                packages.append(Package(ecosystem: purl.type, name: name, version: version, path: path))
                return
            }
            purls.append(purl)
            if let source, purl.qualifiers["upstream"] == nil, Package.osEcosystems.contains(package.ecosystem) {
                package.source = Package.Source(name: source.name, version: source.version ?? package.version)
            }
            packages.append(package)
        } catch {
            warnings.append("\(path): \(error)")
        }
    }

    private mutating func summarise(_ unmatched: [String: Int], path: String) {
        for (kind, count) in unmatched.sorted(by: { $0.key < $1.key }) {
            warnings.append("\(path): \(count) component(s) with \(kind) were not matched (no package type to match them by)")
        }
    }

    /// The OS from the `distro` qualifier of the OS packages' purls (`debian-12`,
    /// `alpine-3.20.3`). Purls naming two releases are an error: an inventory is matched against
    /// one release, and taking either would match the other's packages against the wrong
    /// advisories (or none) without a word.
    static func osFromDistro(_ purls: [PackageURL], path: String) throws -> OSRelease? {
        var found: [(os: OSRelease, distro: String, count: Int)] = []
        for purl in purls where Package.osEcosystems.contains(purl.type) {
            guard let distro = purl.qualifiers["distro"] else { continue }
            // `alpine-3.7.3`, `debian-12`, or a version alone beside the purl's namespace (`3.7.3`);
            // a version written `v3.7` is 3.7. A distro without a version (`alpine`) names no release.
            let dash = distro.lastIndex(of: "-")
            let id = dash.map { String(distro[..<$0]) } ?? purl.namespace
            var version = dash.map { String(distro[distro.index(after: $0)...]) } ?? distro
            if version.first == "v", version.dropFirst().first?.isNumber == true { version.removeFirst() }
            guard let id, version.first?.isNumber == true else { continue }
            let os = OSRelease.make(id: id, versionID: version, prettyName: nil, idLike: nil, source: "purl distro")
            // One release however its version is written (alpine-3.7 and alpine-3.7.3).
            if let index = found.firstIndex(where: { ($0.os.namespace ?? $0.distro) == (os.namespace ?? distro) }) {
                found[index].count += 1
            } else {
                found.append((os, distro, 1))
            }
        }
        guard found.count <= 1 else {
            let named = found.map { "\($0.distro): \($0.count) package\($0.count == 1 ? "" : "s")" }.joined(separator: ", ")
            throw FathomError(
                .invalidInput, "its OS packages' purls name \(found.count) releases (\(named)): an SBOM is matched against one; "
                    + "split it, or give --os to say which release its packages belong to", path: path)
        }
        return found.first?.os
    }
}
