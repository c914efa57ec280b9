import FathomArchive
import FathomCore
@testable import FathomInventory
import FathomSource
import FathomOCI
import FathomPipeline
import FathomTestSupport
import Foundation
import Testing

/// Every analyzer against every file of the shared data that fits it, comparing whole package
/// lists with the truth files (written from dpkg-query, rpm -qa or the origin project's tests).
@Suite struct AnalyzerTruthTests {
    static func pkgdb(_ relative: String) -> String { Fixtures.root.appendingPathComponent("pkgdb/\(relative)").path }
    static func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }
    static func truth(_ relative: String) throws -> [String: Any] { try Fixtures.json(pkgdb(relative)) as! [String: Any] }

    /// `name version source-name source-version arch` lines, sorted.
    static func dpkgLines(_ packages: [Package]) -> [String] {
        packages.map { "\($0.name) \($0.version) \($0.source?.name ?? "-") \($0.source?.version ?? "-") \($0.arch ?? "-")" }.sorted()
    }

    static func dpkgTruthLines(_ truth: [String: Any]) -> [String] {
        (truth["packages"] as! [[String: Any]]).map {
            "\($0["name"]!) \($0["version"]!) \($0["sourceName"]!) \($0["sourceVersion"]!) \($0["arch"]!)"
        }.sorted()
    }

    @Test(arguments: [
        ("dpkg/trivy-valid/var/lib/dpkg/status", "dpkg/trivy-valid.truth.json"),
        ("dpkg/bookworm-minbase/var/lib/dpkg/status", "dpkg/bookworm-minbase.truth.json"),
        ("dpkg/distroless-status.d/var/lib/dpkg/status.d/libsqlite3-0", "dpkg/distroless-status.d.truth.json"),
    ])
    func dpkgStatusFiles(_ file: String, _ truthFile: String) throws {
        let truth = try Self.truth(truthFile)
        let path = file.hasSuffix("libsqlite3-0") ? "var/lib/dpkg/status.d/libsqlite3-0" : "var/lib/dpkg/status"
        #expect(DpkgAnalyzer().claims(path))
        let result = DpkgAnalyzer().analyze(path: path, contents: try Self.bytes(Self.pkgdb(file)))
        #expect(result.packages.count == truth["count"] as? Int)
        #expect(Self.dpkgLines(result.packages) == Self.dpkgTruthLines(truth))
        #expect(result.warnings.isEmpty)
    }

    @Test func dpkgClaimsOnlyStatusFiles() {
        let analyzer = DpkgAnalyzer()
        #expect(analyzer.claims("var/lib/dpkg/status"))
        #expect(analyzer.claims("var/lib/dpkg/status.d/base"))
        #expect(!analyzer.claims("var/lib/dpkg/status.d/base.md5sums"))
        #expect(!analyzer.claims("var/lib/dpkg/status-old"))
        #expect(!analyzer.claims("var/lib/dpkg/available"))
    }

    @Test func dpkgMalformedParagraphsKeepTheRest() {
        let text = """
            Package: good
            Status: install ok installed
            Version: 1.0-1
            Architecture: amd64

            Status: install ok installed
            Version: 2.0

            Package: removed
            Status: deinstall ok config-files
            Version: 3.0

            Package: noversion
            Status: install ok installed

            Package: withsource
            Status: install ok installed
            Source: upstream (1:2.0-3)
            Version: 2.0-3+b1

            """
        let result = DpkgAnalyzer().analyze(path: "var/lib/dpkg/status", contents: Array(text.utf8))
        #expect(result.packages.map(\.name) == ["good", "withsource"])
        #expect(result.packages.last?.source == Package.Source(name: "upstream", version: "1:2.0-3"))
        #expect(result.warnings.count == 2)
        #expect(result.warnings.allSatisfy { $0.hasPrefix("var/lib/dpkg/status: ") })
    }

    static let apkCases: [String] = ["installed", "no-origin", "empty", "different-arch", "single"]

    @Test(arguments: apkCases)
    func apkInstalledFiles(_ file: String) async throws {
        let truth = try Self.truth("apk/scalibr.truth.json")
        let expected = ((truth["files"] as! [String: Any])[file] as! [[String: Any]])[0]
        let result = ApkAnalyzer().analyze(path: "lib/apk/db/installed", contents: try Self.bytes(Self.pkgdb("apk/scalibr/\(file)")))
        let wanted = (expected["packages"] as! [[String: Any]]).map { package -> String in
            let origin = (package["origin"] as! String).isEmpty ? package["name"] as! String : package["origin"] as! String
            return "\(package["name"]!) \(package["version"]!) \(origin) \(package["arch"]!)"
        }
        #expect(result.packages.map { "\($0.name) \($0.version) \($0.source?.name ?? "-") \($0.arch ?? "-")" } == wanted)
        #expect(result.packages.count == expected["count"] as? Int)
    }

    @Test func apkInvalidFileYieldsNoPackagesAndAWarning() async throws {
        let result = ApkAnalyzer().analyze(path: "lib/apk/db/installed", contents: try Self.bytes(Self.pkgdb("apk/scalibr/invalid")))
        #expect(result.packages.isEmpty)
        #expect(!result.warnings.isEmpty)
        #expect(result.warnings[0].contains("lib/apk/db/installed"))
    }

    @Test(arguments: ["3.7.3", "3.10.9", "3.11.13", "3.20.3"])
    func alpineMinirootfsPackagesMatchTruth(_ version: String) async throws {
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.truth.json")) as! [String: Any]
        let directory = try Fixtures.temporaryDirectory("alpine-\(version)")
        let layer = Fixtures.image("alpine-minirootfs/alpine-minirootfs-\(version)-x86_64.tar.gz")
        let builder = try OCILayoutBuilder(directory: directory)
        let plain = directory + "/layer.tar"
        try await Tool.run(["gzip", "-dc", layer]).stdout.write(to: URL(fileURLWithPath: plain))
        try builder.writeIndex([("latest", [try await builder.addImage(layers: [(plain, .gzip)])])])
        let result = try await ImageScanner().scan(try OCILayoutSource(directory: directory))
        let wanted = (truth["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!) \($0["origin"]!) \($0["arch"]!)" }.sorted()
        let got = result.packages.map { "\($0.package.name) \($0.package.version) \($0.package.source?.name ?? "-") \($0.package.arch ?? "-")" }.sorted()
        #expect(got == wanted)
        #expect(result.packages.allSatisfy { $0.layer == 0 && $0.package.ecosystem == "apk" })
    }

    /// A usr-merged root (Wolfi's and Chainguard's: `lib` a link to `usr/lib`) keeps apk's
    /// database at `usr/lib/apk/db/installed`: read there, its packages are the truth's.
    @Test func aUsrMergedRootsApkDatabaseIsRead() async throws {
        let truth = try Fixtures.json(Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.truth.json")) as! [String: Any]
        let directory = try Fixtures.temporaryDirectory("usr-merged")
        let root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/apk/db", withIntermediateDirectories: true)
        try await Tool.run(["tar", "-xzf", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "-C", root, "./etc/os-release", "./lib/apk/db/installed"])
        try FileManager.default.moveItem(atPath: root + "/lib/apk/db/installed", toPath: root + "/usr/lib/apk/db/installed")
        try FileManager.default.removeItem(atPath: root + "/lib")
        try FileManager.default.createSymbolicLink(atPath: root + "/lib", withDestinationPath: "usr/lib")
        try await Tool.run(["tar", "--numeric-owner", "-C", root, "-cf", directory + "/layer.tar", "."])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("latest", [try await builder.addImage(layers: [(directory + "/layer.tar", .gzip)])])])
        let result = try await ImageScanner().scan(try OCILayoutSource(directory: directory + "/oci"))
        let wanted = (truth["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!)" }.sorted()
        #expect(result.packages.map { "\($0.package.name) \($0.package.version)" }.sorted() == wanted)
        #expect(result.packages.allSatisfy { $0.package.path == "usr/lib/apk/db/installed" })
    }

    @Test(arguments: ["alpine-310", "alpine-311"])
    func dockerSaveArchivesListTheTruthsPackages(_ name: String) async throws {
        let truth = try Fixtures.json(Fixtures.image("trivy-docker-save/\(name).truth.json")) as! [String: Any]
        let result = try await ImageScanner().scan(try DockerArchiveSource(path: Fixtures.image("trivy-docker-save/\(name).tar.gz")))
        let wanted = (truth["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!)" }.sorted()
        #expect(result.packages.map { "\($0.package.name) \($0.package.version)" }.sorted() == wanted)
        #expect(result.packages.count == truth["count"] as? Int)
    }

    @Test func packagesAreAttributedToTheLayerThatIntroducedThem() async throws {
        let summary = LayerReadSummary(
            digest: Digest.sha256(of: []), compression: .gzip, compressedSize: 0, uncompressedSize: 0, entryCount: 0, fileCount: 0)
        func status(_ packages: [(String, String)]) -> FileFact {
            FileFact(kind: .file, packages: packages.map { Package(ecosystem: "deb", name: $0.0, version: $0.1, path: "var/lib/dpkg/status") })
        }
        func layer(_ fact: FileFact?) -> LayerFacts {
            LayerFacts(summary: summary, files: fact.map { ["var/lib/dpkg/status": $0] } ?? [:], whiteouts: [], opaqueDirectories: [], warnings: [])
        }
        // Base has libc 1 and bash 5; layer 1 adds curl; layer 2 touches nothing; layer 3 upgrades libc.
        let filesystem = MergedFilesystem(layers: [
            layer(status([("libc6", "1"), ("bash", "5")])),
            layer(status([("libc6", "1"), ("bash", "5"), ("curl", "8")])),
            layer(nil),
            layer(status([("libc6", "2"), ("bash", "5"), ("curl", "8")])),
        ])
        let layers = Dictionary(uniqueKeysWithValues: ImageInventory.packages(in: filesystem).map { ($0.package.name, $0.layer) })
        #expect(layers == ["bash": 0, "curl": 1, "libc6": 3])
    }
}

/// rpm databases in all three formats against `rpm -qa` (and go-rpmdb's test for ndb, which
/// Debian's rpm cannot read).
@Suite struct RpmAnalyzerTests {
    @Test(arguments: [
        ("rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", "rpm/cbl-mariner-2.0-sqlite.truth.json"),
        ("rpm/libuuid-bdb/Packages", "var/lib/rpm/Packages", "rpm/libuuid-bdb.truth.json"),
        ("rpm/sle15-bci-ndb/Packages.db", "usr/lib/sysimage/rpm/Packages.db", "rpm/sle15-bci-ndb.truth.json"),
    ])
    func databasesMatchTruth(_ file: String, _ imagePath: String, _ truthFile: String) throws {
        let truth = try AnalyzerTruthTests.truth(truthFile)
        #expect(RpmAnalyzer().claims(imagePath))
        let result = RpmAnalyzer().analyze(path: imagePath, contents: try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb(file)))
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        let wanted = (truth["packages"] as! [[String: Any]]).map { package -> String in
            var version = "\(package["version"]!)-\(package["release"]!)"
            if let epoch = package["epoch"] as? Int, epoch != 0 { version = "\(epoch):" + version }
            return "\(package["name"]!) \(version) \(package["arch"]!) \(package["sourceRpm"]!)"
        }.sorted()
        let got = result.packages.map { package -> String in
            let source = package.source.map { "\($0.name)-\($0.version?.split(separator: ":").last.map(String.init) ?? "").src.rpm" } ?? "?"
            return "\(package.name) \(package.version) \(package.arch ?? "-") \(source)"
        }.sorted()
        #expect(got == wanted)
        #expect(result.packages.count == truth["count"] as? Int)
    }

    /// Each package's files, decoded from its header (base names, directory names and
    /// indexes), are those rpm itself lists (python3-rpm's FILENAMES over the same database).
    @Test(arguments: [("rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite"), ("rpm/libuuid-bdb/Packages", "var/lib/rpm/Packages")])
    func fileListsAreRpmsOwn(_ file: String, _ imagePath: String) async throws {
        guard (try? await Tool.run(["/usr/bin/python3", "-c", "import rpm"]))?.status == 0 else {
            Issue.record("python3-rpm is not installed (scripts/test installs it)")
            return
        }
        let directory = try Fixtures.temporaryDirectory("rpm-files")
        try FileManager.default.copyItem(atPath: AnalyzerTruthTests.pkgdb(file), toPath: directory + "/" + (file as NSString).lastPathComponent)
        let program = """
            import rpm, sys
            rpm.addMacro('_dbpath', sys.argv[1])
            for h in rpm.TransactionSet().dbMatch():
                for f in h[rpm.RPMTAG_FILENAMES]: print(h[rpm.RPMTAG_NAME] + '\\t' + f)
            """
        let listed = try await Tool.run(["/usr/bin/python3", "-c", program, directory]).text.split(separator: "\n").map(String.init).sorted()
        let bytes = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb(file))
        var warnings: [String] = []
        let blobs = file.hasSuffix(".sqlite") ? try SQLiteRpmdb.blobs(bytes) : try BerkeleyRpmdb.blobs(bytes, warnings: &warnings, path: imagePath)
        let decoded = try blobs.flatMap { blob in
            let header = try RpmHeader(blob: blob)
            return header.files.map { "\(header.name ?? "")\t\($0)" }
        }.sorted()
        #expect(listed.count > 5 && decoded == listed, "\(decoded.count) decoded, \(listed.count) listed by rpm")
        // The distribution's vendors, as their headers name them.
        #expect(RpmAnalyzer.isDistributions(vendor: "Microsoft Corporation") && RpmAnalyzer.isDistributions(vendor: "Red Hat, Inc."))
        #expect(!RpmAnalyzer.isDistributions(vendor: "Elasticsearch") && !RpmAnalyzer.isDistributions(vendor: nil))
    }

    @Test func damagedDatabasesWarnAndKeepWhatTheyCan() async throws {
        var sqlite = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"))
        sqlite = Array(sqlite.prefix(4096))
        let truncated = RpmAnalyzer().analyze(path: "var/lib/rpm/rpmdb.sqlite", contents: sqlite)
        #expect(!truncated.warnings.isEmpty)
        #expect(truncated.warnings[0].hasPrefix("var/lib/rpm/rpmdb.sqlite: "))

        var bdb = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("rpm/libuuid-bdb/Packages"))
        // Point every overflow chain outside the file.
        for page in 0..<(bdb.count / 4096) where bdb[page * 4096 + 25] == 13 {
            let entries = Int(bdb[page * 4096 + 20]) | Int(bdb[page * 4096 + 21]) << 8
            for item in stride(from: 1, to: entries, by: 2) {
                let offset = Int(bdb[page * 4096 + 26 + item * 2]) | Int(bdb[page * 4096 + 27 + item * 2]) << 8
                if bdb[page * 4096 + offset] == 3 { for byte in 4..<8 { bdb[page * 4096 + offset + byte] = 0x7f } }
            }
        }
        let broken = RpmAnalyzer().analyze(path: "var/lib/rpm/Packages", contents: bdb)
        #expect(broken.packages.isEmpty)
        #expect(broken.warnings.contains { $0.contains("outside the file") })

        let noise = RpmAnalyzer().analyze(path: "usr/lib/sysimage/rpm/Packages.db", contents: Array(repeating: 0x41, count: 8192))
        #expect(noise.packages.isEmpty)
        #expect(noise.warnings.count == 1)
    }
}

/// Language packages against scalibr's test expectations.
@Suite struct LanguageAnalyzerTests {
    static let pythonCases: [String] = {
        let truth = try! AnalyzerTruthTests.truth("python/scalibr-wheelegg.truth.json")
        return (truth["cases"] as! [[String: Any]]).map { $0["file"] as! String }
    }()

    @Test(arguments: pythonCases)
    func pythonMetadata(_ file: String) async throws {
        let truth = try AnalyzerTruthTests.truth("python/scalibr-wheelegg.truth.json")
        let expected = (truth["cases"] as! [[String: Any]]).first { $0["file"] as! String == file }!
        let path = file.hasSuffix(".whl") || file.hasSuffix(".egg") ? "usr/lib/python3/site-packages/\(file)" : "usr/lib/python3/dist-packages/x.dist-info/METADATA"
        // A wheel on disk is not installed (pip's cache, ensurepip's bundled pip): not claimed, though readable.
        #expect(PythonAnalyzer().claims(path) == !file.hasSuffix(".whl"))
        let result = PythonAnalyzer().analyze(
            path: path, contents: try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("python/scalibr-wheelegg/\(file)")))
        let wanted = (expected["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!)" }
        #expect(result.packages.map { "\($0.name) \($0.version)" } == wanted)
        if expected["wantError"] as? Bool == true { #expect(!result.warnings.isEmpty) }
    }

    /// Test suites' fixtures inside a Python installation are not installed distributions:
    /// CPython's (Debian's libpython3.11-testsuite ships the first path) and setuptools'
    /// (the python:3.11 image's pkg_resources). A virtualenv under a folder named `tests`
    /// is still installed.
    @Test func pythonTestFixturesAreNotPackages() {
        let analyzer = PythonAnalyzer()
        for fixture in [
            "usr/lib/python3.11/test/test_importlib/data/example-21.12-py3.6.egg",
            "usr/local/lib/python3.11/site-packages/pkg_resources/tests/data/my-test-package_zipped-egg/my_test_package-1.0-py3.7.egg",
            "usr/local/lib/python3.11/site-packages/pkg_resources/tests/data/my-test-package_unpacked-egg/my_test_package-1.0-py3.7.egg/EGG-INFO/PKG-INFO",
        ] {
            #expect(!analyzer.claims(fixture), "\(fixture)")
        }
        for installed in [
            "usr/lib/python3/dist-packages/setuptools-66.1.1.egg-info/PKG-INFO",
            "srv/tests/venv/lib/python3.11/site-packages/urllib3-1.26.5.dist-info/METADATA",
            "usr/local/lib/python3.11/site-packages/tests-0.7.dist-info/METADATA",
            "opt/app/build/lib/app.egg-info/PKG-INFO",
        ] {
            #expect(analyzer.claims(installed), "\(installed)")
        }
    }

    /// Metadata with CRLF line ends (Windows-built wheels: pip's own, as Python 3.11 bundles it)
    /// is read as written: by Character, "\r\n" is one newline, which splitting on "\n" missed.
    @Test(arguments: pythonCases.filter { !$0.hasSuffix(".whl") && !$0.hasSuffix(".egg") })
    func pythonMetadataWithCRLFLines(_ file: String) async throws {
        let bytes = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("python/scalibr-wheelegg/\(file)"))
        var crlf: [UInt8] = []
        for byte in bytes where byte != 0x0D {
            if byte == 0x0A { crlf.append(0x0D) }
            crlf.append(byte)
        }
        let path = "usr/lib/python3/dist-packages/x.dist-info/METADATA"
        let lf = PythonAnalyzer().analyze(path: path, contents: bytes.filter { $0 != 0x0D })
        let windows = PythonAnalyzer().analyze(path: path, contents: crlf)
        #expect(windows.packages.map { "\($0.name) \($0.version)" } == lf.packages.map { "\($0.name) \($0.version)" })
        #expect(windows.warnings.count == lf.warnings.count)
    }

    /// The files an OS package installed that a language analyzer reads: dpkg's `.list` files
    /// and apk's `F:`/`R:` lines keep only those (ImageInventory leaves their packages to the OS).
    @Test func osPackageManagersNameTheLanguageFilesTheyInstalled() {
        let list = "/.\n/usr\n/usr/lib/python3/dist-packages/urllib3\n/usr/lib/python3/dist-packages/urllib3/__init__.py\n"
            + "/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO\n/usr/share/java/spring3-beans-3.x.jar\n"
        #expect(DpkgFileListAnalyzer().claims("var/lib/dpkg/info/python3-urllib3.list") && DpkgFileListAnalyzer().claims("var/lib/dpkg/info/libc6:amd64.list"))
        #expect(!DpkgFileListAnalyzer().claims("var/lib/dpkg/info/python3-urllib3.md5sums"))
        #expect(DpkgFileListAnalyzer().analyze(path: "var/lib/dpkg/info/python3-urllib3.list", contents: Array(list.utf8)).ownedFiles == [
            "usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO", "usr/share/java/spring3-beans-3.x.jar",
        ])
        let apk = "P:py3-urllib3\nV:1.26.18-r0\nF:usr/lib/python3.11/site-packages/urllib3-1.26.18.dist-info\nR:METADATA\nR:RECORD\n"
            + "F:usr/lib/python3.11/site-packages/urllib3\nR:__init__.py\n\nP:musl\nV:1.2.4-r2\nF:lib\nR:ld-musl-x86_64.so.1\n"
        let result = ApkAnalyzer().analyze(path: "lib/apk/db/installed", contents: Array(apk.utf8))
        #expect(result.ownedFiles == ["usr/lib/python3.11/site-packages/urllib3-1.26.18.dist-info/METADATA"] && result.packages.count == 2)
    }

    /// The distribution's maintainers by their address's domain, not by text in it.
    @Test func theDistributionsMaintainersAreKnownByDomain() {
        for maintainer in ["Debian Python Team <team+python@tracker.debian.org>", "Santiago Vila <sanvila@debian.org>",
                           "Debian Javascript Maintainers <pkg-javascript-devel@alioth-lists.debian.net>",
                           "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"] {
            #expect(DpkgAnalyzer.isDistributions(maintainer: maintainer), "\(maintainer)")
        }
        for maintainer in ["Evil <pkgs@notdebian.org>", "Elastic <info@elastic.co>", "debian.org fan <me@example.com>", "No address", nil] {
            #expect(!DpkgAnalyzer.isDistributions(maintainer: maintainer), "\(maintainer ?? "nil")")
        }
    }

    @Test func pythonClaims() {
        let analyzer = PythonAnalyzer()
        #expect(analyzer.claims("usr/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA"))
        #expect(analyzer.claims("usr/lib/python3/dist-packages/pycups-2.0.1.egg-info"))
        #expect(analyzer.claims("opt/app/lib/foo.egg-info/PKG-INFO"))
        #expect(!analyzer.claims("usr/lib/python3/dist-packages/requests/__init__.py"))
    }

    static let npmCases: [String] = {
        let truth = try! AnalyzerTruthTests.truth("javascript/scalibr-packagejson.truth.json")
        return (truth["cases"] as! [[String: Any]]).map { $0["file"] as! String }
    }()

    /// Dependency ranges in a manifest are not installed packages (scalibr's optional
    /// "lowest satisfying version" guess is left out): only the manifest's own package counts.
    @Test(arguments: npmCases)
    func npmPackageJSON(_ file: String) async throws {
        let truth = try AnalyzerTruthTests.truth("javascript/scalibr-packagejson.truth.json")
        let expected = (truth["cases"] as! [[String: Any]]).first { $0["file"] as! String == file }!
        let result = NpmAnalyzer().analyze(
            path: "app/node_modules/x/package.json",
            contents: try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("javascript/scalibr-packagejson/\(file)")))
        var wanted = (expected["packages"] as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!)" }
        if expected["includeDependencies"] as? Bool == true { wanted = Array(wanted.prefix(1)) }
        #expect(result.packages.map { "\($0.name) \($0.version)" } == wanted)
        if expected["wantError"] as? Bool == true { #expect(!result.warnings.isEmpty) }
    }

    @Test func npmClaimsAndLockfiles() async throws {
        let analyzer = NpmAnalyzer()
        #expect(analyzer.claims("usr/lib/node_modules/npm/package.json"))
        #expect(analyzer.claims("app/node_modules/@types/node/package.json"))
        #expect(!analyzer.claims("app/node_modules/npm/lib/package.json"))
        #expect(analyzer.claims("app/package-lock.json"))
        let lock = """
            {"lockfileVersion": 3, "packages": {
              "": {"name": "app", "version": "1.0.0"},
              "node_modules/lodash": {"version": "4.17.20"},
              "node_modules/@babel/core": {"version": "7.1.0"},
              "node_modules/a/node_modules/lodash": {"version": "3.10.1"},
              "node_modules/local": {"link": true, "resolved": "../local"}}}
            """
        let result = analyzer.analyze(path: "app/package-lock.json", contents: Array(lock.utf8))
        #expect(result.packages.map { "\($0.name) \($0.version)" } == ["@babel/core 7.1.0", "lodash 3.10.1", "lodash 4.17.20"])
        let v1 = #"{"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": {"version": "2.0.0"}}}}}"#
        #expect(analyzer.analyze(path: "package-lock.json", contents: Array(v1.utf8)).packages.map(\.name) == ["a", "b"])
        // npm's aliases install the package they name (npm's own v1 lockfiles write them so).
        let aliases = #"{"lockfileVersion": 1, "dependencies": {"alias-lodash": {"version": "npm:lodash@4.17.4"}, "b": {"version": "npm:@scope/real@2.0.0"}}}"#
        #expect(
            analyzer.analyze(path: "package-lock.json", contents: Array(aliases.utf8)).packages.map { "\($0.name) \($0.version)" }
                == ["@scope/real 2.0.0", "lodash 4.17.4"])
    }
}

/// Go build information from real binaries, read whole and streamed in bounded memory.
@Suite struct GoBinaryTests {
    static let expected: [String: [String]] = [
        // scalibr's expectations (replacement module reported) and trivy's (pre-1.18 pointers).
        "binary_with_module_replacement-linux-amd64": [
            "binary_with_module_replacement (devel)", "github.com/golang/xerrors v0.0.0-20220907171357-04be3eba64a2",
            "stdlib v1.22.0",
        ],
        "trivy-test.elf": [
            "github.com/aquasecurity/go-pep440-version v0.0.0-20210121094942-22b2f8951d46",
            "github.com/aquasecurity/go-version v0.0.0-20210121072130-637058cfe492",
            "github.com/aquasecurity/test (devel)", "golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1", "stdlib v1.15.2",
        ],
    ]

    func scan(_ file: String, pretendSize: Int64?, chunk: Int) throws -> AnalyzerResult {
        let bytes = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("go/\(file)"))
        var scanner = BinaryAnalyzer().makeScanner(path: "usr/bin/\(file)", size: pretendSize ?? Int64(bytes.count))
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            bytes[offset..<end].withUnsafeBytes { scanner.feed($0) }
            offset = end
        }
        return scanner.finish()
    }

    @Test(arguments: ["binary_with_module_replacement-linux-amd64", "trivy-test.elf"])
    func buildInfoMatchesTruth(_ file: String) async throws {
        let result = try scan(file, pretendSize: nil, chunk: 65536)
        #expect(result.packages.map { "\($0.name) \($0.version)" }.sorted() == Self.expected[file])
        #expect(result.packages.allSatisfy { $0.ecosystem == "go" && $0.path == "usr/bin/\(file)" })
    }

    /// A dependency replaced by a local directory is a copy of unknown version: not reported as
    /// the directory's name (it was, as `./localnet (devel)`), not as the module it replaced,
    /// and said. The modinfo is as Go 1.19.8 wrote it for `replace golang.org/x/net => ./localnet`.
    @Test func aModuleReplacedByALocalDirectoryIsSaidNotChecked() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgithub.com/opencontainers/runc\tv1.1.0\n"
            + "=>\tgithub.com/opencontainers/runc\tv1.1.12\t\n\ndep\tgolang.org/x/net\tv0.0.0-20190620200207-3b0461eec859\n"
            + "=>\t./localnet\t(devel)\t\n\ndep\tgolang.org/x/text\tv0.3.0\t\nbuild\t-compiler=gc\n"
        let result = GoBuildInfoScanner.packages(goVersion: "go1.19.8", modinfo: modinfo, path: "usr/bin/app")
        #expect(result.packages.map { "\($0.name) \($0.version)" } == [
            "stdlib v1.19.8", "example.com/app (devel)", "github.com/opencontainers/runc v1.1.12", "golang.org/x/text v0.3.0",
        ])
        #expect(result.warnings == ["usr/bin/app: 1 Go module is replaced by a local directory, a copy of unknown version, and not checked: golang.org/x/net (by ./localnet)"])
    }

    @Test func go118BinariesAreReadWhileStreamingWithoutHoldingTheFile() async throws {
        // Claim a large size so the scanner keeps only the head and the bytes after the magic,
        // and feed odd-sized chunks so the magic straddles chunk boundaries.
        for chunk in [1000, 4093, 65536] {
            let result = try scan("binary_with_module_replacement-linux-amd64", pretendSize: 1 << 30, chunk: chunk)
            #expect(result.packages.map { "\($0.name) \($0.version)" }.sorted() == Self.expected["binary_with_module_replacement-linux-amd64"])
        }
    }

    @Test func nonGoExecutablesAndLyingHeadersAreHarmless() async throws {
        var scanner = BinaryAnalyzer().makeScanner(path: "bin/sh", size: 100_000)
        let shell = [UInt8](repeating: 0x90, count: 100_000)
        shell.withUnsafeBytes { scanner.feed($0) }
        #expect(scanner.finish().packages.isEmpty)

        // An ELF whose build-info pointers point nowhere: a warning, no crash.
        var bytes = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("go/trivy-test.elf"))
        let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)
        var index = 0
        while index + 14 <= bytes.count, !bytes[index..<(index + 14)].elementsEqual(magic) { index += 16 }
        for byte in 16..<32 { bytes[index + byte] = 0xee }
        var lying = BinaryAnalyzer().makeScanner(path: "usr/bin/lying", size: Int64(bytes.count))
        bytes.withUnsafeBytes { lying.feed($0) }
        let result = lying.finish()
        #expect(result.packages.isEmpty)
        #expect(result.warnings.first?.hasPrefix("usr/bin/lying: Go build information is unreadable") == true)
    }
}

/// Lock files and gem specifications, on documents written to each format's published shape.
@Suite struct LockfileAnalyzerTests {
    @Test func cargoLock() {
        let lock = """
            # This file is automatically @generated by Cargo.
            version = 3

            [[package]]
            name = "app"
            version = "0.1.0"
            dependencies = [
             "smallvec",
            ]

            [[package]]
            name = "smallvec"
            version = "1.6.0"
            source = "registry+https://github.com/rust-lang/crates.io-index"
            checksum = "fe0f37c9e8f3c5a4a66ad655a93c74daac4ad00c441533bf5c6e7990bb42604e"

            [[package]]
            name = "time"
            version = "0.1.43"
            source = "registry+https://github.com/rust-lang/crates.io-index"

            [metadata]
            "checksum x" = "y"
            """
        let result = CargoLockAnalyzer().analyze(path: "src/app/Cargo.lock", contents: Array(lock.utf8))
        #expect(result.packages.map { "\($0.name) \($0.version) \($0.ecosystem)" } == ["smallvec 1.6.0 crates", "time 0.1.43 crates"])
        #expect(CargoLockAnalyzer().claims("Cargo.lock") && CargoLockAnalyzer().claims("app/Cargo.lock"))
    }

    @Test func composerLock() {
        let lock = #"{"packages": [{"name": "guzzlehttp/guzzle", "version": "7.4.1"}, {"name": "symfony/http-kernel", "version": "v5.4.2"}], "packages-dev": [{"name": "phpunit/phpunit", "version": "9.5.10"}]}"#
        let result = ComposerLockAnalyzer().analyze(path: "var/www/composer.lock", contents: Array(lock.utf8))
        #expect(result.packages.map { "\($0.name) \($0.version)" } == ["guzzlehttp/guzzle 7.4.1", "symfony/http-kernel 5.4.2", "phpunit/phpunit 9.5.10"])
        #expect(!ComposerLockAnalyzer().analyze(path: "composer.lock", contents: Array("[1]".utf8)).warnings.isEmpty)
    }

    @Test func gemspec() {
        let spec = """
            # -*- encoding: utf-8 -*-
            # stub: rack 2.2.3 ruby lib

            Gem::Specification.new do |s|
              s.name = "rack".freeze
              s.version = "2.2.3"
              s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
            end
            """
        let path = "usr/local/bundle/specifications/rack-2.2.3.gemspec"
        #expect(GemspecAnalyzer().claims(path))
        let result = GemspecAnalyzer().analyze(path: path, contents: Array(spec.utf8))
        #expect(result.packages.map { "\($0.name) \($0.version) \($0.ecosystem)" } == ["rack 2.2.3 gem"])
    }
}

/// Java archives written by Python's zipfile (an independent ZIP writer), with shaded and
/// nested libraries.
@Suite struct JavaArchiveTests {
    /// Builds a jar; `members` maps names to text, nested jars are given as `@nested:NAME`.
    static func makeJar(_ path: String, _ members: [String: String], nested: [String: String] = [:]) async throws {
        var program = "import zipfile, sys\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n"
        for (name, text) in members.sorted(by: { $0.key < $1.key }) {
            program += "z.writestr(\(pythonString(name)), \(pythonString(text)))\n"
        }
        for (name, file) in nested { program += "z.write(\(pythonString(file)), \(pythonString(name)))\n" }
        program += "z.close()\n"
        try await Tool.run(["python3", "-c", program, path])
    }

    static func pythonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "'"
    }

    @Test func pomPropertiesManifestsAndNestedJars() async throws {
        let directory = try Fixtures.temporaryDirectory("jars")
        try await Self.makeJar(directory + "/log4j-core.jar", [
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nImplementation-Title: log4j-core\n",
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties":
                "#Created by Apache Maven\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
            "org/apache/logging/log4j/core/Logger.class": String(repeating: "x", count: 5000),
        ])
        try await Self.makeJar(directory + "/manifest-only.jar", [
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nImplementation-Title: commons-text\r\nImplementation-Version: 1.9\r\nImplementation-Vendor-Id: org.apache.commons\r\n",
        ])
        try await Self.makeJar(
            directory + "/app.war",
            [
                "META-INF/maven/com.example/app/pom.properties": "groupId=com.example\nartifactId=app\nversion=1.0.0\n",
                // A shaded library keeps its own pom.properties inside the outer archive.
                "META-INF/maven/com.google.guava/guava/pom.properties": "groupId=com.google.guava\nartifactId=guava\nversion=31.0-jre\n",
            ],
            nested: ["WEB-INF/lib/log4j-core-2.14.1.jar": directory + "/log4j-core.jar", "WEB-INF/lib/commons-text.jar": directory + "/manifest-only.jar"])
        let bytes = try AnalyzerTruthTests.bytes(directory + "/app.war")
        let path = "usr/local/tomcat/webapps/app.war"
        #expect(JavaArchiveAnalyzer().claims(path))
        let result = JavaArchiveAnalyzer().analyze(path: path, contents: bytes)
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(
            result.packages.map { "\($0.name) \($0.version) \($0.path)" }.sorted() == [
                "com.example:app 1.0.0 \(path)",
                "com.google.guava:guava 31.0-jre \(path)",
                "org.apache.commons:commons-text 1.9 \(path)!/WEB-INF/lib/commons-text.jar",
                "org.apache.logging.log4j:log4j-core 2.14.1 \(path)!/WEB-INF/lib/log4j-core-2.14.1.jar",
            ])
        // An EAR's WAR's libraries are read (Java EE's layout); one level deeper is said, not read.
        try await Self.makeJar(directory + "/app.ear", ["META-INF/application.xml": "<application/>"], nested: ["web.war": directory + "/app.war"])
        let ear = JavaArchiveAnalyzer().analyze(path: "opt/app.ear", contents: try AnalyzerTruthTests.bytes(directory + "/app.ear"))
        #expect(ear.warnings.isEmpty && ear.packages.contains { $0.path == "opt/app.ear!/web.war!/WEB-INF/lib/log4j-core-2.14.1.jar" && $0.version == "2.14.1" })
        try await Self.makeJar(directory + "/outer.zip.jar", ["a": "b"], nested: ["inner.ear": directory + "/app.ear"])
        let deeper = JavaArchiveAnalyzer().analyze(path: "outer.jar", contents: try AnalyzerTruthTests.bytes(directory + "/outer.zip.jar"))
        #expect(deeper.packages.map(\.name).sorted() == ["com.example:app", "com.google.guava:guava"], "\(deeper.packages)")
        #expect(deeper.warnings == ["outer.jar!/inner.ear!/web.war: 2 archives nested deeper than 3 levels not read (WEB-INF/lib/commons-text.jar)"]
            || deeper.warnings == ["outer.jar!/inner.ear!/web.war: 2 archives nested deeper than 3 levels not read (WEB-INF/lib/log4j-core-2.14.1.jar)"], "\(deeper.warnings)")
    }

    /// Jars without pom.properties, their manifests as the published jars have them (Gradle
    /// builds Spring's; log4j's title is a phrase): named from the manifest and the file name,
    /// never from the title "Apache Log4j Core", which no advisory names.
    @Test func jarsWithoutPOMPropertiesAreNamedFromTheirManifestsAndFiles() async throws {
        let directory = try Fixtures.temporaryDirectory("pomless")
        let jars: [(file: String, manifest: String, expected: String?)] = [
            (
                "log4j-core-2.14.1.jar",
                "Manifest-Version: 1.0\r\nImplementation-Title: Apache Log4j Core\r\nImplementation-Version: 2.14.1\r\n"
                    + "Implementation-Vendor-Id: org.apache.logging.log4j\r\nBundle-SymbolicName: org.apache.logging.log4j.core\r\n",
                "org.apache.logging.log4j:log4j-core 2.14.1"
            ),
            (
                "jackson-databind-2.13.2.jar", "Manifest-Version: 1.0\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind\nBundle-Version: 2.13.2\n",
                "com.fasterxml.jackson.core:jackson-databind 2.13.2"
            ),
            // No group anywhere: the artifact alone, which coverage names as not checked.
            ("spring-beans-5.3.17.jar", "Manifest-Version: 1.0\r\nImplementation-Title: spring-beans\r\nImplementation-Version: 5.3.17\r\nAutomatic-Module-Name: spring.beans\r\n", "spring-beans 5.3.17"),
            ("netty-all-4.1.68.Final.jar", "Manifest-Version: 1.0\n", "netty-all 4.1.68.Final"),
            // The file's Maven version before the OSGi one.
            ("guava-31.1-jre.jar", "Manifest-Version: 1.0\nBundle-Version: 31.1.0.jre\n", "guava 31.1-jre"),
            // Nothing names a version: no package.
            ("app.jar", "Manifest-Version: 1.0\nMain-Class: com.example.Main\n", nil),
            // The file's name before a title that is an id but not the artifact's, and an empty
            // version is none; a word that is no version qualifier belongs to the artifact.
            ("xercesImpl-2.12.2.jar", "Manifest-Version: 1.0\nImplementation-Title: org.apache.xerces.impl.Version\nImplementation-Version: \n", "xercesImpl 2.12.2"),
            ("log4j-1.2-api-2.17.1.jar", "Manifest-Version: 1.0\nImplementation-Vendor-Id: org.apache.logging.log4j\n", "org.apache.logging.log4j:log4j-1.2-api 2.17.1"),
            ("foo-bar-1.0-beta-2.jar", "Manifest-Version: 1.0\n", "foo-bar 1.0-beta-2"),
            // A one-part symbolic name names no group.
            ("bcprov-jdk15on-1.70.jar", "Manifest-Version: 1.0\nBundle-SymbolicName: bcprov\n", "bcprov-jdk15on 1.70"),
            // A file name a packager gave (Debian's libspring-beans-java 4.3.30-2, its manifest as
            // shipped): its version is not the manifest's, so the title names the artifact.
            ("spring3-beans-3.x.jar", "Manifest-Version: 1.0\r\nCreated-By: 17.0.6 (Oracle Corporation)\r\nImplementation-Title: spring-beans\r\nImplementation-Version: 4.3.30.RELEASE\r\n\r\n", "spring-beans 4.3.30.RELEASE"),
            // A manifest version that begins with the file's is the same build: the file names it.
            ("foo-1.70.jar", "Manifest-Version: 1.0\nImplementation-Title: other-id\nImplementation-Version: 1.70.0\n", "foo 1.70.0"),
            // No file version: the title names the artifact.
            ("commons.jar", "Manifest-Version: 1.0\nImplementation-Title: commons-text\nImplementation-Version: 1.9\nImplementation-Vendor-Id: org.apache.commons\n", "org.apache.commons:commons-text 1.9"),
        ]
        for jar in jars {
            try await Self.makeJar(directory + "/" + jar.file, ["META-INF/MANIFEST.MF": jar.manifest])
            let result = JavaArchiveAnalyzer().analyze(path: "opt/app/lib/" + jar.file, contents: try AnalyzerTruthTests.bytes(directory + "/" + jar.file))
            #expect(result.warnings.isEmpty, "\(result.warnings)")
            #expect(result.packages.map { "\($0.name) \($0.version)" } == (jar.expected.map { [$0] } ?? []), "\(jar.file)")
        }
    }

    @Test func damagedArchivesWarn() async throws {
        let directory = try Fixtures.temporaryDirectory("badjar")
        try await Self.makeJar(directory + "/a.jar", ["META-INF/maven/g/a/pom.properties": "groupId=g\nartifactId=a\nversion=1\n"])
        var bytes = try AnalyzerTruthTests.bytes(directory + "/a.jar")
        let truncated = JavaArchiveAnalyzer().analyze(path: "a.jar", contents: Array(bytes.prefix(bytes.count / 2)))
        #expect(truncated.packages.isEmpty && !truncated.warnings.isEmpty)
        for index in 66..<76 { bytes[index] ^= 0xff }  // damage the deflated data (after the 30-byte header and 33-byte name)
        let damaged = JavaArchiveAnalyzer().analyze(path: "a.jar", contents: bytes)
        #expect(damaged.packages.isEmpty)
        #expect(damaged.warnings.first?.hasPrefix("a.jar: META-INF/maven/g/a/pom.properties") == true)
    }
}

/// Damaged and oversized input: warnings naming the file, every readable package kept,
/// nothing read past its cap.
@Suite struct InventoryBadInputTests {
    @Test func truncatedRpmHeaderIsAWarning() async throws {
        let sqlite = try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb("rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"))
        let good = RpmAnalyzer().analyze(path: "var/lib/rpm/rpmdb.sqlite", contents: sqlite)
        #expect(good.packages.count == 129)
        // A header whose index claims more data than the blob holds.
        var blob: [UInt8] = [0, 0, 0, 2, 0, 0, 0x10, 0]  // 2 entries, 4096 data bytes
        blob += [0, 0, 0x03, 0xe8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1]  // NAME string at 0
        blob += Array("bash\0".utf8)
        #expect(throws: (any Error).self) { try RpmHeader(blob: blob[...]) }
    }

    @Test func oversizedMetadataIsReportedNotRead() async throws {
        // A 2 GB METADATA claim: the collector refuses it before the parser reads a byte.
        var collector = LayerFactsCollector()
        let entry = TarEntry(
            name: "usr/lib/python3/dist-packages/huge.dist-info/METADATA", path: "usr/lib/python3/dist-packages/huge.dist-info/METADATA",
            kind: .file, size: 2 << 30, mode: 0o644, uid: 0, gid: 0, modificationTime: 0, linkName: "", whiteoutTarget: nil)
        guard case .collect(let limit) = collector.claim(entry) else {
            Issue.record("METADATA was not claimed")
            return
        }
        #expect(limit < 2 << 30)
        try collector.receive(entry, body: [], complete: false)
        let summary = LayerReadSummary(
            digest: Digest.sha256(of: []), compression: .gzip, compressedSize: 0, uncompressedSize: 0, entryCount: 1, fileCount: 1)
        let facts = collector.facts(summary)
        #expect(facts.warnings == [
            "usr/lib/python3/dist-packages/huge.dist-info/METADATA: 2 GiB is over the \(ReadLimits.describe(Int64(limit))) limit for this file (--max-file-bytes); not read, so the packages it lists are not in this report"
        ])
    }

    /// Counts and offsets chosen to overflow: every one is refused or skipped, none traps.
    @Test(arguments: [
        (UInt32.max, UInt32.max, UInt32(0), UInt32(1)),  // entries and data past any blob
        (UInt32(1), UInt32(16), UInt32.max, UInt32(1)),  // a negative offset
        (UInt32(1), UInt32(16), UInt32(0x7fff_fff0), UInt32.max),  // an offset far past the data, a huge count
        (UInt32(0x0fff_ffff), UInt32(0x0fff_ffff), UInt32(0), UInt32(1)),  // just under the caps, a blob far smaller
    ])
    func rpmHeaderCountsThatOverflowAreRefused(_ entries: UInt32, _ dataLength: UInt32, _ offset: UInt32, _ count: UInt32) throws {
        func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }
        for tag: UInt32 in [1000, 1003] {  // a string (NAME) and an int32 (EPOCH)
            let blob = bigEndian(entries) + bigEndian(dataLength) + bigEndian(tag) + bigEndian(tag == 1003 ? 4 : 6) + bigEndian(offset)
                + bigEndian(count) + [UInt8](repeating: 0x41, count: 16)
            if let header = try? RpmHeader(blob: blob[...]) {
                #expect(header.name == nil && header.epoch == nil, "read a field out of bounds: \(header)")
            }
        }
    }
}

/// cargo-auditable data in a real ELF: a `.dep-v0` section added with objcopy to a copy of
/// a system binary, holding zlib-compressed JSON written by Python.
@Suite struct RustAuditTests {
    @Test func depV0SectionListsRegistryCrates() async throws {
        guard Tool.has("objcopy") else {
            Issue.record("objcopy (binutils) is not installed")
            return
        }
        let directory = try Fixtures.temporaryDirectory("rust-audit")
        let json = #"{"packages":[{"name":"app","version":"0.1.0","source":"local","kind":"runtime","root":true,"dependencies":[1,2]},{"name":"smallvec","version":"1.6.0","source":"crates.io","kind":"runtime"},{"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime"}]}"#
        try await Tool.run(
            ["python3", "-c", "import sys, zlib; open(sys.argv[1], 'wb').write(zlib.compress(sys.argv[2].encode()))", directory + "/dep.z", json])
        try await Tool.run(["cp", "/usr/bin/true", directory + "/app"])
        try await Tool.run(["objcopy", "--add-section", ".dep-v0=\(directory)/dep.z", directory + "/app", directory + "/app-audited"])
        let bytes = try AnalyzerTruthTests.bytes(directory + "/app-audited")
        var scanner = BinaryAnalyzer().makeScanner(path: "usr/local/bin/app", size: Int64(bytes.count))
        bytes.withUnsafeBytes { scanner.feed($0) }
        let result = scanner.finish()
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(result.packages.map { "\($0.ecosystem) \($0.name) \($0.version)" } == ["crates smallvec 1.6.0", "crates time 0.1.43"])

        // A lying section table (offset past the end of the file) yields nothing, and no crash.
        var lying = bytes
        for index in 0x28..<0x30 { lying[index] = 0xff }
        var lyingScanner = BinaryAnalyzer().makeScanner(path: "usr/local/bin/app", size: Int64(lying.count))
        lying.withUnsafeBytes { lyingScanner.feed($0) }
        #expect(lyingScanner.finish().packages.isEmpty)

        // The same binary without the section yields nothing.
        let plain = try AnalyzerTruthTests.bytes(directory + "/app")
        var plainScanner = BinaryAnalyzer().makeScanner(path: "usr/local/bin/app", size: Int64(plain.count))
        plain.withUnsafeBytes { plainScanner.feed($0) }
        #expect(plainScanner.finish().packages.isEmpty)
    }
}

/// .NET, Composer and RubyGems databases from Trivy's, Syft's and osv-scalibr's test data
/// (pkgdb/dotnet, composer, ruby: see their PROVENANCE.md), against truth lists read from the
/// files themselves.
@Suite struct LanguageDatabaseTruthTests {
    static func truth(_ relative: String) throws -> [String] {
        (try Fixtures.json(AnalyzerTruthTests.pkgdb(relative)) as! [[String: Any]]).map { "\($0["name"]!) \($0["version"]!)" }.sorted()
    }

    static func read(_ analyzer: any Analyzer, _ relative: String, as path: String) throws -> AnalyzerResult {
        #expect(analyzer.claims(path), "\(analyzer.name) claims \(path)")
        return analyzer.analyze(path: path, contents: try AnalyzerTruthTests.bytes(AnalyzerTruthTests.pkgdb(relative)))
    }

    static func lines(_ result: AnalyzerResult, ecosystem: String) -> [String] {
        #expect(result.packages.allSatisfy { $0.ecosystem == ecosystem })
        return result.packages.map { "\($0.name) \($0.version)" }.sorted()
    }

    /// Every `package` library, but not the app's own projects; libraries the runtime target
    /// gives no assets are left out as Trivy leaves them (its test expects exactly these 3 of
    /// the file's 7 packages).
    @Test func dotnetDepsJSON() throws {
        let analyzer = DotnetDepsAnalyzer()
        let collector = try Self.read(analyzer, "dotnet/trivy/datacollector.deps.json", as: "app/datacollector.deps.json")
        #expect(Self.lines(collector, ecosystem: "nuget") == (try Self.truth("dotnet/trivy/datacollector.deps.json.truth.json")))
        #expect(collector.warnings.isEmpty)

        let withoutRuntime = try Self.read(analyzer, "dotnet/trivy/without-runtime.deps.json", as: "app/ExampleApp1.deps.json")
        let all = try Self.truth("dotnet/trivy/without-runtime.deps.json.truth.json")
        #expect(all.count == 7)
        #expect(Self.lines(withoutRuntime, ecosystem: "nuget") == ["JsonDiffPatch 2.0.61", "Libuv 1.9.1", "System.Collections.Immutable 1.3.0"])

        // Two projects and twelve packages; the two without runtime assets in net6.0 are
        // provided by the shared framework.
        let library = try Self.read(analyzer, "dotnet/syft/TestLibrary.deps.json", as: "app/TestLibrary.deps.json")
        let expected = try Self.truth("dotnet/syft/TestLibrary.deps.json.truth.json")
            .filter { !$0.hasPrefix("System.Diagnostics.DiagnosticSource ") && !$0.hasPrefix("System.Runtime.CompilerServices.Unsafe ") }
        #expect(expected.count == 10)
        #expect(Self.lines(library, ecosystem: "nuget") == expected)
        #expect(!Self.lines(library, ecosystem: "nuget").contains { $0.hasPrefix("TestLibrary ") || $0.hasPrefix("TestCommon ") })

        #expect(!analyzer.claims("app/appsettings.json"))
        #expect(!analyzer.analyze(path: "x.deps.json", contents: Array("[]".utf8)).warnings.isEmpty)
    }

    @Test func composerLockAndInstalledJSON() throws {
        for folder in ["trivy-happy", "trivy-integration"] {
            let result = try Self.read(ComposerLockAnalyzer(), "composer/\(folder)/composer.lock", as: "var/www/composer.lock")
            #expect(Self.lines(result, ecosystem: "composer") == (try Self.truth("composer/\(folder)/composer.lock.truth.json")).map(Self.dropV).sorted())
        }
        let installed = try Self.read(
            ComposerInstalledAnalyzer(), "composer/trivy-integration-vendor/vendor/composer/installed.json", as: "var/www/vendor/composer/installed.json")
        #expect(Self.lines(installed, ecosystem: "composer") == (try Self.truth("composer/trivy-integration-vendor/vendor/composer/installed.json.truth.json")))
        // Composer 1 wrote a bare array.
        let old = ComposerInstalledAnalyzer().analyze(path: "vendor/composer/installed.json", contents: Array(#"[{"name":"a/b","version":"v1.2.0"}]"#.utf8))
        #expect(Self.lines(old, ecosystem: "composer") == ["a/b 1.2.0"])
        #expect(!ComposerInstalledAnalyzer().analyze(path: "vendor/composer/installed.json", contents: Array("{}".utf8)).warnings.isEmpty)
    }

    /// fathom reports a tag's version without its `v` (Composer compares both the same).
    static func dropV(_ line: String) -> String {
        let parts = line.split(separator: " ", maxSplits: 1)
        return parts[1].hasPrefix("v") ? "\(parts[0]) \(parts[1].dropFirst())" : line
    }

    @Test func installedGemSpecifications() throws {
        let truth = try Fixtures.json(AnalyzerTruthTests.pkgdb("ruby/gems/specifications.truth.json")) as! [[String: Any]]
        #expect(truth.count == 6)
        for entry in truth {
            let file = entry["file"] as! String
            let result = try Self.read(GemspecAnalyzer(), "ruby/gems/specifications/\(file)", as: "usr/local/lib/ruby/gems/3.0.0/specifications/\(file)")
            #expect(Self.lines(result, ecosystem: "gem") == ["\(entry["name"]!) \(entry["version"]!)"], "\(file)")
        }
    }
}
