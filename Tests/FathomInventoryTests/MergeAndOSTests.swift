import FathomArchive
import FathomCore
import FathomInventory
import FathomSource
import FathomOCI
import Testing

@Suite struct MergeAndOSTests {
    static let summary = LayerReadSummary(
        digest: Digest.sha256(of: []), compression: .gzip, compressedSize: 0, uncompressedSize: 0, entryCount: 0, fileCount: 0)

    func layer(
        _ files: [String: FileFact] = [:], whiteouts: [String] = [], opaque: [String] = []
    ) -> LayerFacts {
        LayerFacts(summary: Self.summary, files: files, whiteouts: whiteouts, opaqueDirectories: opaque, warnings: [])
    }

    func text(_ value: String) -> FileFact { FileFact(kind: .file, text: value) }

    @Test func upperLayersWinAndWhiteoutsDelete() {
        let merged = MergedFilesystem(layers: [
            layer(["etc/a": text("1"), "etc/b": text("1"), "opt/x/y": text("1"), "opt/x/z": text("1"), "keep": text("1")]),
            layer(["etc/a": text("2")], whiteouts: ["etc/b", "opt/x"]),
            layer(["opt/x/new": text("3")]),
        ])
        #expect(merged.entries["etc/a"]?.fact.text == "2")
        #expect(merged.entries["etc/a"]?.layer == 1)
        #expect(merged.entries["etc/b"] == nil)
        #expect(merged.entries["opt/x/y"] == nil)
        #expect(merged.entries["opt/x/new"]?.layer == 2)
        #expect(merged.entries["keep"]?.layer == 0)
    }

    @Test func opaqueDirectoriesHideOnlyLowerLayers() {
        let merged = MergedFilesystem(layers: [
            layer(["etc/conf.d/old": text("1"), "etc/other": text("1")]),
            layer(["etc/conf.d/new": text("2")], opaque: ["etc/conf.d"]),
        ])
        #expect(merged.entries["etc/conf.d/old"] == nil)
        #expect(merged.entries["etc/conf.d/new"] != nil)
        #expect(merged.entries["etc/other"] != nil)
    }

    @Test func symlinkedOSReleaseIsFollowed() {
        // Debian and Alpine ship /etc/os-release -> ../usr/lib/os-release.
        let merged = MergedFilesystem(layers: [
            layer([
                "etc/os-release": FileFact(kind: .symlink, linkTarget: "../usr/lib/os-release"),
                "usr/lib/os-release": text(
                    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"),
            ])
        ])
        let os = OSRelease.detect(in: merged)
        #expect(os?.id == "debian")
        #expect(os?.versionID == "12")
        #expect(os?.prettyName == "Debian GNU/Linux 12 (bookworm)")
        #expect(os?.namespace == "Debian:12")
        #expect(os?.source == "etc/os-release")
    }

    @Test func upperLayerReleaseFileReplacesTheBase() {
        let merged = MergedFilesystem(layers: [
            layer(["etc/os-release": text("ID=alpine\nVERSION_ID=3.19.1\n")]),
            layer(["etc/os-release": text("ID=ubuntu\nVERSION_ID=\"22.04\"\nPRETTY_NAME='Ubuntu 22.04.4 LTS'\n")]),
        ])
        let os = OSRelease.detect(in: merged)
        #expect(os?.namespace == "Ubuntu:22.04")
        #expect(os?.prettyName == "Ubuntu 22.04.4 LTS")
    }

    @Test(arguments: [
        ("etc/alpine-release", "3.19.1\n", "alpine", "Alpine:v3.19"),
        ("etc/debian_version", "12.5\n", "debian", "Debian:12"),
        ("etc/redhat-release", "Red Hat Enterprise Linux release 8.9 (Ootpa)\n", "rhel", "Red Hat:8"),
        ("etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n", "rocky", "Rocky Linux:9"),
    ])
    func fallbackReleaseFiles(_ path: String, _ contents: String, _ id: String, _ namespace: String) {
        let os = OSRelease.detect(in: MergedFilesystem(layers: [layer([path: text(contents)])]))
        #expect(os?.id == id)
        #expect(os?.namespace == namespace)
    }

    @Test func whiteoutOfTheReleaseFileFallsBack() {
        let merged = MergedFilesystem(layers: [
            layer(["etc/os-release": text("ID=debian\nVERSION_ID=12\n"), "etc/debian_version": text("12.5\n")]),
            layer(whiteouts: ["etc/os-release"]),
        ])
        #expect(OSRelease.detect(in: merged)?.source == "etc/debian_version")
    }

    @Test func collectorClaimsOnlyWhatItNeedsAndCapsSize() async throws {
        var collector = LayerFactsCollector(claims: PathClaims(exact: ["etc/os-release", "big"], limit: 10))
        func entry(_ path: String, _ kind: TarEntry.Kind, size: Int64 = 0, link: String = "", target: String? = nil) -> TarEntry {
            TarEntry(
                name: path, path: path, kind: kind, size: size, mode: 0o644, uid: 0, gid: 0, modificationTime: 0, linkName: link,
                whiteoutTarget: target)
        }
        #expect(collector.claim(entry("usr/bin/ls", .file, size: 100)) == .skip)
        #expect(collector.claim(entry("etc/os-release", .file, size: 5)) == .collect(limit: 10))
        try collector.receive(entry("etc/os-release", .file, size: 5), body: Array("ID=x\n".utf8), complete: true)
        _ = collector.claim(entry("big", .file, size: 100))
        try collector.receive(entry("big", .file, size: 100), body: [], complete: false)
        _ = collector.claim(entry("etc/.wh.shadow", .whiteout, target: "etc/shadow"))
        _ = collector.claim(entry("var/.wh..wh..opq", .opaqueWhiteout, target: "var"))
        let facts = collector.facts(Self.summary)
        #expect(facts.files.keys.sorted() == ["big", "etc/os-release"])
        #expect(facts.files["big"]?.skippedOverLimit == true)
        #expect(facts.warnings.count == 1)
        #expect(facts.whiteouts == ["etc/shadow"])
        #expect(facts.opaqueDirectories == ["var"])
    }

    /// What an SPDX document DESCRIBES, or a CycloneDX document's metadata component, is a
    /// package when its purl names one (Syft describes each package of an SBOM of packages), and
    /// the subject when it is the image or has no purl; OS purls of one release in two spellings
    /// are one release.
    @Test func aDescribedPackageIsAPackageAndTheImageIsTheSubject() throws {
        func spdx(_ packages: String, describes: [String]) -> [UInt8] {
            let relationships = describes.map { #"{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "\#($0)"}"# }
            return Array(#"{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": [\#(packages)], "relationships": [\#(relationships.joined(separator: ","))]}"#.utf8)
        }
        func package(_ id: String, _ purl: String?) -> String {
            let reference = purl.map { #", "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "\#($0)"}]"# } ?? ""
            return #"{"SPDXID": "\#(id)", "name": "\#(id)"\#(reference)}"#
        }
        let musl = package("SPDXRef-musl", "pkg:apk/alpine/musl@1.1.18-r3?arch=x86_64&distro=alpine-3.7.3")
        let utils = package("SPDXRef-utils", "pkg:apk/alpine/musl-utils@1.1.18-r3?arch=x86_64&upstream=musl&distro=alpine-3.7")
        let image = package("SPDXRef-image", "pkg:oci/app@sha256%3A0000000000000000000000000000000000000000000000000000000000000000")
        let everyOne = try SBOMInventory.read(spdx([musl, utils].joined(separator: ","), describes: ["SPDXRef-musl", "SPDXRef-utils"]), path: "s.json")
        #expect(everyOne.packages.map(\.name) == ["musl", "musl-utils"])
        #expect(everyOne.os?.namespace == "Alpine:v3.7")
        let theImage = try SBOMInventory.read(spdx([image, musl].joined(separator: ","), describes: ["SPDXRef-image"]), path: "s.json")
        #expect(theImage.packages.map(\.name) == ["musl"] && theImage.subject == "SPDXRef-image")
        // GitHub's dependency graph describes the repository (`pkg:github`): the subject, no gap.
        let repository = package("SPDXRef-repo", "pkg:github/owner/repo@main")
        let github = try SBOMInventory.read(spdx([repository, musl].joined(separator: ","), describes: ["SPDXRef-repo"]), path: "s.json")
        #expect(github.packages.map(\.name) == ["musl"] && github.subject == "SPDXRef-repo")
        let noPurl = try SBOMInventory.read(spdx([package("SPDXRef-dir", nil), musl].joined(separator: ","), describes: ["SPDXRef-dir"]), path: "s.json")
        #expect(noPurl.packages.map(\.name) == ["musl"] && noPurl.subject == "SPDXRef-dir" && noPurl.warnings.isEmpty)

        func cycloneDX(subject: String) -> [UInt8] {
            Array(#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "metadata": {"component": \#(subject)}, "components": [{"type": "library", "name": "zlib", "version": "1.2.11-r1", "purl": "pkg:apk/alpine/zlib@1.2.11-r1?distro=alpine-3.7.3"}]}"#.utf8)
        }
        let library = try SBOMInventory.read(cycloneDX(subject: #"{"type": "library", "name": "musl", "purl": "pkg:apk/alpine/musl@1.1.18-r3?distro=alpine-3.7.3"}"#), path: "c.json")
        #expect(library.packages.map(\.name).sorted() == ["musl", "zlib"])
        // An application's own project is the subject; a library listed in components too is read once.
        let application = try SBOMInventory.read(cycloneDX(subject: #"{"type": "application", "name": "app", "purl": "pkg:npm/app@latest"}"#), path: "c.json")
        #expect(application.packages.map(\.name) == ["zlib"])
        let listedToo = try SBOMInventory.read(cycloneDX(subject: #"{"type": "library", "name": "zlib", "purl": "pkg:apk/alpine/zlib@1.2.11-r1?distro=alpine-3.7.3"}"#), path: "c.json")
        #expect(listedToo.packages.map(\.name) == ["zlib"])
        let container = try SBOMInventory.read(cycloneDX(subject: #"{"type": "container", "name": "app", "purl": "pkg:oci/app@sha256%3A00"}"#), path: "c.json")
        #expect(container.packages.map(\.name) == ["zlib"] && container.subject == "app")
        // A distro written `alpine-v3.7` is 3.7; one without a version names no release.
        let written = package("SPDXRef-w", "pkg:apk/alpine/zlib@1.2.11-r1?distro=alpine-v3.7")
        #expect(try SBOMInventory.read(spdx(written, describes: []), path: "s.json").os?.namespace == "Alpine:v3.7")
        let versionless = package("SPDXRef-w", "pkg:apk/alpine/zlib@1.2.11-r1?distro=alpine")
        #expect(try SBOMInventory.read(spdx(versionless, describes: []), path: "s.json").os == nil)
        let system = try SBOMInventory.read(cycloneDX(subject: #"{"type": "operating-system", "name": "alpine", "version": "3.7.3"}"#), path: "c.json")
        #expect(system.os?.namespace == "Alpine:v3.7" && system.packages.map(\.name) == ["zlib"])
    }

    /// Syft's purl of Go's standard library names the toolchain (`go1.20.1`); read as a Go
    /// binary's build info gives it (`v1.20.1`), the form Go's advisories are ordered in.
    @Test func anSBOMsGoStandardLibraryIsReadAsABinarysIs() throws {
        #expect(try PackageURL(parsing: "pkg:golang/stdlib@go1.20.1").package(path: "x")?.version == "v1.20.1")
        #expect(try PackageURL(parsing: "pkg:golang/stdlib@v1.20.1").package(path: "x")?.version == "v1.20.1")
        // A module's version is its own.
        #expect(try PackageURL(parsing: "pkg:golang/github.com/go-chi/chi@v1.5.4").package(path: "x")?.version == "v1.5.4")
    }

    /// Trivy keeps a Debian package's source in properties (CycloneDX) or `sourceInfo` (SPDX),
    /// not in its purl: read there, libc6 is matched as glibc. An SBOM whose deb packages name no
    /// source at all says that their findings will be missed (11 of 38 were reported, silently).
    @Test func anSBOMsSourcePackagesAreReadWhereTrivyWritesThem() throws {
        let names = [("libc6", "glibc"), ("libssl3", "openssl"), ("liblzma5", "xz-utils"), ("zlib1g", "zlib"), ("perl-base", "perl")]
        func cycloneDX(properties: Bool) -> [UInt8] {
            let components = names.map { binary, source in
                let trivy = #",{"name":"aquasecurity:trivy:SrcName","value":"\#(source)"},{"name":"aquasecurity:trivy:SrcVersion","value":"2.36"},{"name":"aquasecurity:trivy:SrcRelease","value":"9+deb12u4"},{"name":"aquasecurity:trivy:SrcEpoch","value":"0"}"#
                return #"{"type":"library","name":"\#(binary)","purl":"pkg:deb/debian/\#(binary)@2.36-9+deb12u4?distro=debian-12","properties":[{"name":"aquasecurity:trivy:PkgType","value":"debian"}\#(properties ? trivy : "")]}"#
            }
            return Array(#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[\#(components.joined(separator: ","))]}"#.utf8)
        }
        let read = try SBOMInventory.read(cycloneDX(properties: true), path: "trivy.cdx.json")
        #expect(read.packages.map { "\($0.name) \($0.source?.name ?? "-") \($0.source?.version ?? "-")" }.sorted()
            == names.map { "\($0.0) \($0.1) 2.36-9+deb12u4" }.sorted())
        #expect(read.warnings.isEmpty, "\(read.warnings)")
        let bare = try SBOMInventory.read(cycloneDX(properties: false), path: "bare.cdx.json")
        #expect(bare.warnings.contains { $0.hasPrefix("bare.cdx.json: none of its 5 deb packages names its source package") && $0.contains("are missed") }, "\(bare.warnings)")
        let spdx = #"{"spdxVersion":"SPDX-2.3","packages":[{"SPDXID":"SPDXRef-1","name":"libc6","sourceInfo":"built package from: glibc 2.36-9+deb12u4","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/libc6@2.36-9+deb12u4?distro=debian-12"}]}]}"#
        let fromSPDX = try SBOMInventory.read(Array(spdx.utf8), path: "trivy.spdx.json")
        #expect(fromSPDX.packages.first?.source == Package.Source(name: "glibc", version: "2.36-9+deb12u4"))
    }

    /// A purl without a version takes the package's own (SPDX `versionInfo`); the image the
    /// document is of is known by the digest of its `pkg:oci` purl.
    @Test func anSPDXPackagesVersionAndItsImagesDigestAreRead() throws {
        let digest = "sha256:" + String(repeating: "cd", count: 32)
        let spdx = #"""
            {"spdxVersion":"SPDX-2.3","relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-image"}],
             "packages":[{"SPDXID":"SPDXRef-image","name":"app","primaryPackagePurpose":"CONTAINER","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:oci/app@\#(digest)"}]},
                         {"SPDXID":"SPDXRef-1","name":"zlib1g","versionInfo":"1:1.2.13.dfsg-1","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/zlib1g?distro=debian-12&upstream=zlib"}]}]}
            """#
        let read = try SBOMInventory.read(Array(spdx.utf8), path: "s.spdx.json")
        #expect(read.packages.map { "\($0.name) \($0.version)" } == ["zlib1g 1:1.2.13.dfsg-1"] && read.subject == "app" && read.subjectDigest == digest)
        #expect(read.warnings.isEmpty, "\(read.warnings)")
    }
}
