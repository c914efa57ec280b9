import FathomCore
import FathomTestSupport
import Foundation
import Testing

/// `fathom scan --format sarif|cyclonedx|spdx|harbor` on a real image in the real registry
/// (Alpine 3.7.3 with requests 2.19.1 from PyPI), each output checked by its format's own
/// validator, every purl round-tripped through packageurl-python, and the SBOMs scanned back
/// with `fathom scan sbom:FILE` to the image's own findings.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ReportFormatTests {
    let registry: LocalRegistry

    init() async throws { (registry, _) = try await TestImages.sharedRegistry() }

    func fathom(_ arguments: [String]) async throws -> ProcessOutput {
        try await Tool.run([Fixtures.fathomExecutable] + arguments, check: false)
    }

    static let cache = Fixtures.repositoryRoot.appendingPathComponent(".build/fathom-cache").path

    /// Alpine 3.7.3's root filesystem, then a layer with requests 2.19.1 installed by pip.
    func pushImage() async throws -> String {
        let directory = try Fixtures.temporaryDirectory("formats-image")
        let site = directory + "/app/usr/lib/python3.6/site-packages"
        let wheels = Self.cache + "/wheels"
        let download = try await Tool.pip(
            ["download", "--quiet", "--no-deps", "--only-binary=:all:", "requests==2.19.1", "-d", wheels], check: false)
        try #require(download.status == 0, "pip could not download requests==2.19.1: \(download.errorText)")
        try await Tool.pip([
            "install", "--quiet", "--no-deps", "--no-index", "--find-links", wheels, "--target", site, "requests==2.19.1",
        ])
        let base = directory + "/base.tar"
        try await Tool.run(["gzip", "-dc", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")]).stdout
            .write(to: URL(fileURLWithPath: base))
        try await Tool.run(["tar", "--numeric-owner", "-C", directory + "/app", "-cf", directory + "/app.tar", "."])
        let builder = try OCILayoutBuilder(directory: directory + "/oci")
        try builder.writeIndex([("app", [try await builder.addImage(layers: [(base, .gzip), (directory + "/app.tar", .zstd)])])])
        try await registry.push("oci:\(directory)/oci:app", to: "formats/app", tag: "1")
        return "\(registry.host)/formats/app:1"
    }

    /// Runs the formats' own validators over the files and prints one JSON object of findings.
    static let validator = #"""
        import json, sys
        import jsonschema
        from packageurl import PackageURL
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        from spdx_tools.spdx.parser.parse_anything import parse_file
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

        schemas, sarif_path, cdx_path, spdx_path = sys.argv[1:5]
        problems = []

        def schema_errors(schema_path, document, name):
            schema = json.load(open(schema_path))
            validator = jsonschema.validators.validator_for(schema)(schema)
            for error in list(validator.iter_errors(document))[:10]:
                problems.append(f"{name}: {list(error.absolute_path)}: {error.message[:300]}")

        sarif = json.load(open(sarif_path))
        schema_errors(f"{schemas}/sarif/sarif-schema-2.1.0.json", sarif, "sarif")
        cdx_text = open(cdx_path).read()
        error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(cdx_text)
        if error is not None:
            problems.append(f"cyclonedx: {error}")
        cdx = json.loads(cdx_text)
        spdx = json.load(open(spdx_path))
        schema_errors(f"{schemas}/spdx/spdx-schema.json", spdx, "spdx schema")
        for message in validate_full_spdx_document(parse_file(spdx_path)):
            problems.append(f"spdx-tools: {message.validation_message}")

        purls = [c["purl"] for c in cdx.get("components", []) if "purl" in c]
        purls += [r["referenceLocator"] for p in spdx["packages"] for r in p.get("externalRefs", []) if r["referenceType"] == "purl"]
        purls += [r["properties"]["purl"] for r in sarif["runs"][0]["results"] if r["properties"].get("purl")]
        for purl in purls:
            again = PackageURL.from_string(purl).to_string()
            if again != purl:
                problems.append(f"purl {purl} reads back as {again}")
        print(json.dumps({"problems": problems, "purls": len(purls)}))
        """#

    @Test func everyFormatIsValidByItsOwnValidatorAndCarriesTheFindings() async throws {
        let image = try await pushImage()
        let directory = try Fixtures.temporaryDirectory("formats")
        let store = directory + "/fathom.db"
        let nvd = try await AdvisoryCLITests.nvdFeedFile(in: directory)
        let feeds = [AdvisoryCLITests.secdb("v3.7"), Fixtures.root.appendingPathComponent("advisories/osv-pypi.tar.gz").path, nvd]
        #expect(try await fathom(["db", "import", "--store", store] + feeds).status == 0)
        // One finding suppressed by VEX, to show as an analysis in CycloneDX.
        try #"""
            {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "test", "timestamp": "2026-11-29T00:00:00Z",
             "version": 1, "statements": [{"vulnerability": {"name": "PYSEC-2018-28"}, "products": [{"@id": "pkg:pypi/requests@2.19.1"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}
            """#.write(toFile: directory + "/vex.json", atomically: true, encoding: .utf8)

        var outputs: [String: String] = [:]
        // The extensions the formats' tools expect (spdx-tools picks its parser by them).
        for (format, suffix) in [("json", "json"), ("sarif", "sarif"), ("cyclonedx", "cdx.json"), ("spdx", "spdx.json"), ("harbor", "harbor.json")] {
            let path = "\(directory)/report.\(suffix)"
            let output = try await fathom(["scan", image, "--store", store, "--vex", directory + "/vex.json", "-f", format, "-o", path])
            #expect(output.status == 0, "\(format): \(output.errorText)")
            outputs[format] = path
        }
        let report = try Self.object(outputs["json"]!)
        let vulnerabilities = try #require(report["vulnerabilities"] as? [[String: Any]])
        let packages = try #require(report["packages"] as? [[String: Any]])
        #expect(packages.contains { $0["ecosystem"] as? String == "pypi" } && packages.contains { $0["ecosystem"] as? String == "apk" })
        #expect((report["suppressed"] as? [[String: Any]])?.count == 1)
        let muslCVE = try #require(vulnerabilities.first { $0["id"] as? String == "CVE-2019-14697" })
        #expect(muslCVE["severity"] as? String == "CRITICAL")

        // The validators.
        var environment = Fixtures.isolatedEnvironment
        environment["PYTHONPATH"] = Fixtures.repositoryRoot.appendingPathComponent(".build/python-oracle").path
        let checked = try await Tool.run(
            ["python3", "-c", Self.validator, Fixtures.root.appendingPathComponent("schemas").path, outputs["sarif"]!, outputs["cyclonedx"]!,
             outputs["spdx"]!], environment: environment, check: false)
        try #require(checked.status == 0, "the validators did not run (scripts/test installs them): \(checked.errorText)")
        let verdict = try Self.object(data: checked.stdout)
        #expect((verdict["problems"] as? [String]) == [], "\(verdict["problems"] ?? "")")
        // Each package's purl in CycloneDX and SPDX, the image's in SPDX, and each finding's in SARIF.
        #expect(verdict["purls"] as? Int == 2 * packages.count + 1 + vulnerabilities.count)
        let harborErrors = try await ServiceTests.schemaErrors(
            try Data(contentsOf: URL(fileURLWithPath: outputs["harbor"]!)), component: "HarborVulnerabilityReport",
            document: Fixtures.root.appendingPathComponent("schemas/harbor/scanner-adapter-openapi-v1.1.yaml").path)
        #expect(harborErrors.isEmpty, "\(harborErrors)")

        // SARIF: a rule per advisory ranked by security-severity, a result per finding at its file.
        let run = try #require((try Self.object(outputs["sarif"]!)["runs"] as? [[String: Any]])?.first)
        let rules = try #require((run["tool"] as? [String: Any]).flatMap { ($0["driver"] as? [String: Any])?["rules"] as? [[String: Any]] })
        let results = try #require(run["results"] as? [[String: Any]])
        // The finding VEX suppressed is a result too, dismissed by SARIF's own suppressions.
        #expect(results.count == vulnerabilities.count + 1)
        #expect(Set(rules.compactMap { $0["id"] as? String }) == Set(vulnerabilities.compactMap { $0["id"] as? String } + ["PYSEC-2018-28"]))
        let dismissed = results.filter { $0["suppressions"] != nil }
        #expect(dismissed.count == 1 && dismissed.first?["ruleId"] as? String == "PYSEC-2018-28", "\(dismissed)")
        let suppression = try #require((dismissed.first?["suppressions"] as? [[String: Any]])?.first)
        #expect(suppression["kind"] as? String == "external" && suppression["status"] as? String == "accepted")
        #expect((suppression["justification"] as? String)?.contains("vex: not_affected") == true, "\(suppression)")
        // With the fingerprint the finding has when it is not suppressed (a dashboard's same alert).
        #expect(((dismissed.first?["partialFingerprints"] as? [String: Any])?["fathom/v1"] as? String)?.hasPrefix("PYSEC-2018-28:pypi:requests:") == true)
        let muslRule = try #require(rules.first { $0["id"] as? String == muslCVE["id"] as? String })
        #expect((muslRule["properties"] as? [String: Any])?["security-severity"] as? String == "9.8")
        let muslResult = try #require(results.first { $0["ruleId"] as? String == muslCVE["id"] as? String })
        #expect(muslResult["level"] as? String == "error")
        #expect("\(muslResult["locations"] ?? "")".contains("lib/apk/db/installed"))
        let message = (muslResult["message"] as? [String: Any])?["text"] as? String
        #expect(message?.contains("Severity CRITICAL (nvd), CVSS 3.1 9.8 from nvd") == true, "\(message ?? "")")

        // CycloneDX: the image with its digest, ratings with the source and every score, the VEX analysis.
        let bom = try Self.object(outputs["cyclonedx"]!)
        let metadata = try #require((bom["metadata"] as? [String: Any])?["component"] as? [String: Any])
        #expect(metadata["type"] as? String == "container")
        #expect((metadata["version"] as? String)?.hasPrefix("sha256:") == true)
        let entries = try #require(bom["vulnerabilities"] as? [[String: Any]])
        let musl = try #require(entries.first { $0["id"] as? String == muslCVE["id"] as? String })
        let ratings = (musl["ratings"] as? [[String: Any]] ?? []).map { "\(($0["source"] as? [String: Any])?["name"] ?? "") \($0["severity"] ?? "") \($0["score"] ?? "-")" }
        #expect(ratings.contains("nvd critical -") && ratings.contains("nvd critical 9.8") && ratings.contains("nvd (CNA) critical 9.3"), "\(ratings)")
        // Live findings carry the vendor's response (no `state`: a version match is no finding
        // that the flaw is exploitable); the suppressed one its VEX.
        #expect((musl["analysis"] as? [String: Any])?["state"] == nil)
        #expect((musl["analysis"] as? [String: Any])?["response"] as? [String] == ["update"])
        let suppressed = try #require(entries.first { ($0["analysis"] as? [String: Any])?["state"] as? String == "not_affected" })
        #expect(suppressed["id"] as? String == "PYSEC-2018-28")
        #expect((suppressed["analysis"] as? [String: Any])?["state"] as? String == "not_affected")
        #expect((suppressed["analysis"] as? [String: Any])?["justification"] as? String == "code_not_reachable")
        let marks = (suppressed["properties"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["value"] ?? "")" }
        #expect(marks.contains("fathom:suppressed=vex: not_affected") && marks.contains { $0.hasPrefix("fathom:suppressed:rule=") }, "\(marks)")

        // SPDX: the image CONTAINS every package; findings are SECURITY references with severity and scores.
        let spdx = try Self.object(outputs["spdx"]!)
        let contains = (spdx["relationships"] as? [[String: Any]] ?? []).filter { $0["relationshipType"] as? String == "CONTAINS" }
        #expect(contains.count == packages.count + 1)  // and the OS
        let advisories = (spdx["packages"] as? [[String: Any]] ?? []).flatMap { $0["externalRefs"] as? [[String: Any]] ?? [] }
            .filter { $0["referenceCategory"] as? String == "SECURITY" }
        #expect(advisories.count == vulnerabilities.count)
        #expect(advisories.contains { ($0["comment"] as? String ?? "").contains("Severity CRITICAL (nvd), CVSS 3.1 9.8 from nvd") })
    }

    /// fathom's own CycloneDX and SPDX, scanned as SBOMs, give the image scan's findings.
    @Test func sbomsScanBackToTheImagesFindings() async throws {
        let image = try await pushImage()
        let directory = try Fixtures.temporaryDirectory("sbom-round-trip")
        let store = directory + "/fathom.db"
        #expect(
            try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7"), Fixtures.root.appendingPathComponent("advisories/osv-pypi.tar.gz").path])
                .status == 0)
        func findings(_ path: String) throws -> Set<String> {
            let vulnerabilities = try Self.object(path)["vulnerabilities"] as? [[String: Any]] ?? []
            return Set(vulnerabilities.map { "\($0["id"]!) \($0["package"]!) \($0["installedVersion"]!) \($0["fixedVersion"] ?? "-") \($0["severity"]!)" })
        }
        #expect(try await fathom(["scan", image, "--store", store, "-f", "json", "-o", directory + "/image.json"]).status == 0)
        let expected = try findings(directory + "/image.json")
        #expect(expected.contains { $0.contains(" musl ") } && expected.contains { $0.contains(" requests ") })
        for format in ["cyclonedx", "spdx"] {
            let sbom = "\(directory)/sbom.\(format).json"
            #expect(try await fathom(["scan", image, "--store", store, "-f", format, "-o", sbom]).status == 0)
            let output = try await fathom(["scan", "sbom:\(sbom)", "--store", store, "-f", "json", "-o", "\(directory)/\(format).json"])
            #expect(output.status == 0, "\(format): \(output.errorText)")
            #expect(try findings("\(directory)/\(format).json") == expected, "\(format)")
            let report = try Self.object("\(directory)/\(format).json")
            #expect((report["os"] as? [String: Any])?["namespace"] as? String == "Alpine:v3.7")
        }
        // An SBOM without its OS needs --os; a file that is no SBOM is named.
        let cdx = try Self.object("\(directory)/sbom.cyclonedx.json")
        var stripped = cdx
        stripped["components"] = (cdx["components"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "operating-system" }
            .map { component -> [String: Any] in
                var copy = component
                if let purl = copy["purl"] as? String { copy["purl"] = purl.replacingOccurrences(of: #"&distro=alpine-3\.7\.3"#, with: "", options: .regularExpression) }
                return copy
            }
        try JSONSerialization.data(withJSONObject: stripped).write(to: URL(fileURLWithPath: directory + "/no-os.json"))
        let blind = try await fathom(["scan", "sbom:\(directory)/no-os.json", "--store", store, "-f", "json"])
        #expect(blind.status == 0)
        #expect(String(decoding: blind.stdout, as: UTF8.self).contains("the SBOM names no OS"))
        let told = try await fathom(["scan", "sbom:\(directory)/no-os.json", "--os", "alpine:3.7", "--store", store, "-f", "json", "-o", directory + "/told.json"])
        #expect(told.status == 0)
        #expect(try findings(directory + "/told.json") == expected)
        let notSBOM = try await fathom(["scan", "sbom:\(directory)/image.json", "--store", store])
        #expect(notSBOM.status == 1)
        #expect(notSBOM.errorText.contains("not a CycloneDX (bomFormat) or SPDX (spdxVersion) JSON SBOM"))
        #expect(notSBOM.errorText.contains("image.json"))
    }

    /// `-f template`: a Mustache template over the JSON document's keys gives one line per
    /// finding, the same as the JSON lists; a template that does not parse is named with where.
    @Test func aTemplateRendersTheJSONDocumentsKeys() async throws {
        let image = try await pushImage()
        let directory = try Fixtures.temporaryDirectory("template")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")]).status == 0)
        try "{{artifact.name}} {{summary.total}}\n{{#vulnerabilities}}{{id}}|{{package}}|{{installedVersion}}|{{fixedVersion}}\n{{/vulnerabilities}}"
            .write(toFile: directory + "/lines.mustache", atomically: true, encoding: .utf8)
        let output = try await fathom(["scan", image, "--store", store, "-f", "template", "--template", "@" + directory + "/lines.mustache"])
        #expect(output.status == 0, "\(output.errorText)")
        let json = try await fathom(["scan", image, "--store", store, "-f", "json"])
        let vulnerabilities = try Self.object(data: json.stdout)["vulnerabilities"] as? [[String: Any]] ?? []
        #expect(!vulnerabilities.isEmpty)
        let expected = ["\(image) \(vulnerabilities.count)"]
            + vulnerabilities.map { "\($0["id"]!)|\($0["package"]!)|\($0["installedVersion"]!)|\($0["fixedVersion"] as? String ?? "")" }
        #expect(output.text.split(separator: "\n").map(String.init) == expected)

        #expect(!output.errorText.contains("template asks for"), "\(output.errorText)")
        // A misspelled key renders as nothing, as Mustache does, and is named (it gave a blank
        // report); a key no finding has but the report's types do (`matchedAs`) is not.
        try "{{#vulnerabilities}}{{idd}} {{matchedAs}} {{summary.bySeverity.CRITICAL}}\n{{/vulnerabilities}}".write(toFile: directory + "/typo.mustache", atomically: true, encoding: .utf8)
        let typo = try await fathom(["scan", image, "--store", store, "-f", "template", "--template", directory + "/typo.mustache"])
        #expect(typo.status == 0 && typo.errorText.contains("fathom: warning: the template asks for 'idd', which the report has no key for"), "\(typo.errorText)")
        try "{{#vulnerabilities}}\n{{id}}\n".write(toFile: directory + "/open.mustache", atomically: true, encoding: .utf8)
        let broken = try await fathom(["scan", image, "--store", store, "-f", "template", "--template", directory + "/open.mustache"])
        #expect(broken.status == 1)
        #expect(broken.errorText.contains("open.mustache: invalid input: the template does not parse at line 3"), "\(broken.errorText)")
        #expect(broken.errorText.contains("never closed") && !broken.errorText.contains("image"))
        #expect(try await fathom(["scan", image, "-f", "template"]).status == 64)
    }

    /// The table: vulnerabilities and their fix first, the packages only with --list-all-pkgs,
    /// suppressed findings counted (listed with --show-suppressed), colours only on a terminal
    /// without NO_COLOR (util-linux `script` gives the command a terminal).
    @Test func theTableShowsVulnerabilitiesFirstAndColoursOnlyATerminal() async throws {
        let image = try await pushImage()
        let directory = try Fixtures.temporaryDirectory("table")
        let store = directory + "/fathom.db"
        #expect(try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7")]).status == 0)
        try "ALPINE-v3.7-musl-CVE-2019-14697 pkg:musl-utils\n".write(toFile: directory + "/ignore", atomically: true, encoding: .utf8)
        let plain = try await fathom(["scan", image, "--store", store, "--ignore-file", directory + "/ignore"]).text
        #expect(plain.contains("Vulnerabilities: ") && plain.contains("Remediation") && !plain.contains("ECOSYSTEM"))
        #expect(plain.contains("1 suppressed finding not shown (--show-suppressed)"))
        #expect(!plain.contains("\u{1B}["))
        let all = try await fathom(["scan", image, "--store", store, "--list-all-pkgs", "--show-suppressed", "--ignore-file", directory + "/ignore"]).text
        let vulnerabilities = try #require(all.range(of: "Vulnerabilities: "))
        let packages = try #require(all.range(of: "ECOSYSTEM"))
        #expect(vulnerabilities.lowerBound < packages.lowerBound)
        #expect(all.contains("Suppressed (1)") && all.contains("musl-utils") && all.contains("requests"))
        // Which rule suppressed it: the ignore file's line.
        #expect(all.contains("ignore file: \(directory)/ignore:1"), "\(all)")
        let json = try await fathom(["scan", image, "--store", store, "-f", "json", "--no-list-all-pkgs"])
        #expect((try Self.object(data: json.stdout)["packages"] as? [Any])?.isEmpty == true)
        // The SBOM formats' findings point at the packages they list: the flag leaves them whole
        // (SPDX had 0 findings and CycloneDX's `affects` were empty, both schema-valid).
        for format in ["cyclonedx", "spdx"] {
            let listed = try await fathom(["scan", image, "--store", store, "-f", format])
            let unlisted = try await fathom(["scan", image, "--store", store, "-f", format, "--no-list-all-pkgs"])
            let purls = { (text: String) in text.components(separatedBy: "pkg:apk/").count }
            #expect(unlisted.status == 0 && purls(unlisted.text) == purls(listed.text) && purls(listed.text) > 10, "\(format)")
        }

        let command = "\(Fixtures.fathomExecutable) scan \(image) --store \(store)"
        // (swift test itself may run with NO_COLOR set: the terminal run goes without it.)
        let terminal = try await Tool.run(["env", "-u", "NO_COLOR", "script", "-qec", command, "/dev/null"], check: false)
        #expect(terminal.text.contains("\u{1B}[") && terminal.text.contains("UNKNOWN"), "\(terminal.text.prefix(600)) \(terminal.errorText)")
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        let noColour = try await Tool.run(["script", "-qec", command, "/dev/null"], environment: environment, check: false)
        #expect(!noColour.text.contains("\u{1B}[") && noColour.text.contains("UNKNOWN"))
    }

    /// --skip-dirs and --skip-files leave packages (and their findings) out of the report and
    /// the verdict, and say how many.
    @Test func skippedDirectoriesLeaveTheirPackagesOut() async throws {
        let image = try await pushImage()
        let directory = try Fixtures.temporaryDirectory("skip")
        let store = directory + "/fathom.db"
        #expect(
            try await fathom(["db", "import", "--store", store, AdvisoryCLITests.secdb("v3.7"), Fixtures.root.appendingPathComponent("advisories/osv-pypi.tar.gz").path])
                .status == 0)
        func scan(_ extra: [String]) async throws -> (packages: [String], findings: [String], warnings: [String]) {
            let output = try await fathom(["scan", image, "--store", store, "-f", "json"] + extra)
            #expect(output.status == 0, "\(output.errorText)")
            let document = try Self.object(data: output.stdout)
            return ((document["packages"] as? [[String: Any]] ?? []).map { "\($0["ecosystem"]!) \($0["name"]!)" },
                    (document["vulnerabilities"] as? [[String: Any]] ?? []).map { "\($0["package"]!)" },
                    document["warnings"] as? [String] ?? [])
        }
        let whole = try await scan([])
        #expect(whole.packages.contains("pypi requests") && whole.findings.contains("requests"))
        for skip in [["--skip-dirs", "usr/lib/python3*"], ["--skip-dirs", "/**/site-packages/"], ["--skip-files", "*/METADATA"]] {
            let skipped = try await scan(skip)
            #expect(!skipped.packages.contains("pypi requests") && !skipped.findings.contains("requests"), "\(skip)")
            #expect(skipped.packages.count == whole.packages.count - 1 && skipped.findings.contains("musl"), "\(skip)")
            #expect(skipped.warnings.contains("--skip-dirs/--skip-files left out 1 of \(whole.packages.count) packages"), "\(skip)")
        }
        let typo = try await scan(["--skip-dirs", "usr/lib/python2*"])
        #expect(typo.packages == whole.packages)
        #expect(typo.warnings.contains("--skip-dirs 'usr/lib/python2*' matched no file a package was read from"), "\(typo.warnings)")
    }

    static func object(_ path: String) throws -> [String: Any] { try object(data: try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func object(data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }
}
