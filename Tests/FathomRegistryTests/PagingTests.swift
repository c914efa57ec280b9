import AsyncHTTPClient
import FathomReport
import FathomTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The paging contract of every list endpoint (`/v1/jobs`, `/v1/images`, `/v1/findings`,
/// `…/scans`), on both stores: following `Link: rel="next"` from a small `limit` gives every
/// item of the one-page answer exactly once, in the same order; the last page has no `Link`; a
/// cursor not of the endpoint's shape and a `limit` out of range are 400s.
@Suite(.serialized, .timeLimit(.minutes(6))) struct PagingTests {
    /// (status, Link header, body) of a GET with the API token.
    static func get(_ url: String) async throws -> (status: Int, link: String?, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(ServiceTests.apiToken)")
        let response = try await ServiceTests.client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), response.headers.first(name: "Link"), Data(bytes.readableBytesView))
    }

    /// Every page from `path` on, following the Link headers; the pages' bodies.
    static func pages(_ base: String, _ path: String) async throws -> [Data] {
        var bodies: [Data] = []
        var next: String? = path
        while let current = next {
            let answer = try await get(base + current)
            #expect(answer.status == 200, "\(current): \(String(decoding: answer.body, as: UTF8.self))")
            bodies.append(answer.body)
            next = try answer.link.map { link in
                let match = try #require(link.firstMatch(of: /^<([^>]+)>; rel="next"$/), "a Link of rel next: \(link)")
                return String(match.1)
            }
            if bodies.count > 100 { Issue.record("more than 100 pages from \(path)"); break }
        }
        return bodies
    }

    static func array(_ data: Data) throws -> [[String: Any]] { try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) }

    @Test(arguments: ["sqlite", "postgres"]) func everyListPagesWithACursor(_ backend: String) async throws {
        let store: String? = backend == "postgres" ? try await LocalPostgres.shared.value.database("paging") : nil
        let port = try freePort()
        let registry = try await LocalRegistry(notify: ("http://127.0.0.1:\(port)/v1/events", ServiceTests.webhookToken))
        defer { registry.stop() }
        let service = try await ServiceTests.startService(workers: 2, port: port, store: store, arguments: ["--registry", registry.host])
        defer { service.server.stop() }
        let layout = try await TestImages.layout()
        // Names whose byte order and a collation's differ (a dash sorts before a digit only in bytes), Alpine (findings) and busybox (none).
        let repositories = ["paging/zeta", "paging/alpha", "paging/b-2", "paging/b1", "paging/alpine-extra"]
        for (index, repository) in repositories.enumerated() {
            try await registry.push(index.isMultiple(of: 2) ? "oci:\(layout.directory):gzip" : "oci:\(TestImages.busyboxMusl)", to: repository, tag: "1")
        }
        // A second scan of one name: another image pushed to its tag.
        try await ServiceTests.eventually("the first scans", seconds: 120) {
            let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            return summary?["done"] == repositories.count
        }
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: repositories[0], tag: "1")
        try await ServiceTests.eventually("every scan", seconds: 120) {
            let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/jobs/summary").body) as? [String: Int]
            guard summary?["done"] == repositories.count + 1 && summary?["queued"] == 0 && summary?["running"] == 0 else { return false }
            // The registry's events are delivered apart from the push: the last job done need not be
            // the second push's yet. That scan is in when its tag's report has busybox's (no) findings.
            let zeta = try ServiceTests.object(try await ServiceTests.request(.GET, "\(service.base)/v1/images?repository=\(repositories[0])").body)
            return (zeta["images"] as? [[String: Any]])?.first?["findings"] as? Int == 0
        }
        let base = service.base

        // Jobs, newest first.
        let allJobs = try Self.array(try await Self.get("\(base)/v1/jobs?limit=1000").body).compactMap { $0["id"] as? Int }
        #expect(allJobs.count == repositories.count + 1)
        let jobPages = try await Self.pages(base, "/v1/jobs?limit=2")
        #expect(jobPages.count == 3)
        #expect(try jobPages.flatMap { try Self.array($0).compactMap { $0["id"] as? Int } } == allJobs)
        let donePages = try await Self.pages(base, "/v1/jobs?state=done&limit=4")
        #expect(try donePages.flatMap { try Self.array($0).compactMap { $0["id"] as? Int } } == allJobs, "the filter travels with the cursor")

        // Images, in name order, with their filters.
        func names(_ page: Data) throws -> [String] {
            try #require((try ServiceTests.object(page)["images"] as? [[String: Any]])).compactMap { $0["image"] as? String }
        }
        let allImages = try names(try await Self.get("\(base)/v1/images?limit=1000").body)
        #expect(Set(allImages) == Set(repositories.map { "\(registry.host)/\($0):1" }))
        let imagePages = try await Self.pages(base, "/v1/images?limit=2")
        #expect(imagePages.count == 3)
        #expect(try imagePages.flatMap(names) == allImages)
        let alpine = ["paging/b-2", "paging/alpine-extra"].map { "\(registry.host)/\($0):1" }
        // Each answer is had before it is compared, so that a failure prints it.
        let byPackage = try await Self.pages(base, "/v1/images?limit=1&q=musl").flatMap(names)
        #expect(byPackage == alpine.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) })
        let byCVE = try await Self.pages(base, "/v1/images?q=CVE-2019-14697").flatMap(names)
        #expect(Set(byCVE) == Set(alpine))
        let idLowerCase = try ServiceTests.object(try await Self.get("\(base)/v1/findings?id=cve-2019-14697").body)
        let idAsWritten = try ServiceTests.object(try await Self.get("\(base)/v1/findings?id=CVE-2019-14697").body)
        #expect(idLowerCase["count"] as? Int == idAsWritten["count"] as? Int && (idAsWritten["count"] as? Int ?? 0) > 0, "an id in any case")
        let byCVELowerCase = try await Self.pages(base, "/v1/images?q=cve-2019-14697").flatMap(names)
        #expect(byCVELowerCase == byCVE, "an id in any case")
        let byName = try await Self.pages(base, "/v1/images?q=B-2").flatMap(names)
        #expect(byName == ["\(registry.host)/paging/b-2:1"])
        let bySeverity = try await Self.pages(base, "/v1/images?severity=CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN").flatMap(names)
        #expect(Set(bySeverity) == Set(alpine))
        let lowerCase = try await Self.pages(base, "/v1/images?severity=critical,high,medium,low,unknown").flatMap(names)
        #expect(lowerCase == bySeverity, "severities in lower case")
        let byRepository = try await Self.pages(base, "/v1/images?repository=paging/b1").flatMap(names)
        #expect(byRepository == ["\(registry.host)/paging/b1:1"])
        let byRegistry = try await Self.pages(base, "/v1/images?registry=elsewhere:5000").flatMap(names)
        #expect(byRegistry.isEmpty)
        // The host alone names it at any port; a part of a host names nothing.
        let host = String(registry.host.prefix { $0 != ":" })
        let byHost = try await Self.pages(base, "/v1/images?registry=\(host)").flatMap(names)
        #expect(byHost == allImages, "registry=\(host)")
        let byPartOfHost = try await Self.pages(base, "/v1/images?registry=\(host.dropLast())").flatMap(names)
        #expect(byPartOfHost.isEmpty)

        // Findings: one page per three, the fleet's counts on each.
        func findings(_ page: Data) throws -> [String] {
            try #require((try ServiceTests.object(page)["findings"] as? [[String: Any]])).map {
                "\($0["image"] ?? "") \($0["id"] ?? "") \($0["package"] ?? "") \($0["installedVersion"] ?? "")"
            }
        }
        let whole = try ServiceTests.object(try await Self.get("\(base)/v1/findings?limit=10000").body)
        let allFindings = try findings(try await Self.get("\(base)/v1/findings?limit=10000").body)
        #expect(allFindings.count == whole["count"] as? Int && allFindings.count > 3)
        // They are the reports' own findings, in name (byte) order, then each report's order.
        var fromReports: [String] = []
        for image in allImages.sorted(by: { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }) {
            let path = image.drop { $0 != "/" }.dropFirst()
            let tag = try #require(path.lastIndex(of: ":"))
            let report = try ServiceTests.object(try await Self.get("\(base)/v1/images/\(path[..<tag])/\(path[path.index(after: tag)...])").body)
            for vulnerability in report["vulnerabilities"] as? [[String: Any]] ?? [] {
                fromReports.append("\(image) \(vulnerability["id"] ?? "") \(vulnerability["package"] ?? "") \(vulnerability["installedVersion"] ?? "")")
            }
        }
        #expect(allFindings == fromReports)
        let lowerCaseFindings = try findings(try await Self.get("\(base)/v1/findings?limit=10000&severity=critical,high,medium,low,unknown").body)
        #expect(lowerCaseFindings == allFindings, "severities in lower case")
        #expect(whole["images"] as? Int == Set(fromReports.map { $0.prefix { $0 != " " } }).count)
        // Reports stored before their findings were listed (by an earlier fathom) are listed
        // when findings are asked.
        let unlist = "UPDATE reports SET findings_listed = false, counted = false; DELETE FROM report_findings; DELETE FROM report_finding_keys; "
            + "DELETE FROM fleet_vulnerabilities; DELETE FROM fleet_prefixes; DELETE FROM fleet_layer_findings; DELETE FROM fleet_totals; "
            + "DELETE FROM fleet_gaps; DELETE FROM fleet_chains; DELETE FROM fleet_keys"
        func unlistEveryReport() async throws {
            if let store {
                try await LocalPostgres.shared.value.sql(unlist, database: try #require(URL(string: store)?.lastPathComponent))
            } else {
                try await Tool.sqlite(service.store, unlist.replacingOccurrences(of: "false", with: "0"))
            }
        }
        try await unlistEveryReport()
        #expect(try findings(try await Self.get("\(base)/v1/findings?limit=10000").body) == allFindings, "after the listing was emptied")
        let findingPages = try await Self.pages(base, "/v1/findings?limit=3")
        #expect(findingPages.count == (allFindings.count + 2) / 3)
        #expect(try findingPages.flatMap(findings) == allFindings)
        for page in findingPages { #expect(try ServiceTests.object(page)["count"] as? Int == allFindings.count) }
        #expect(try ServiceTests.object(findingPages.last ?? Data())["next"] == nil)

        // A scan history, newest first.
        let history = "/v1/images/\(repositories[0])/1/scans"
        let allScans = try Self.array(try await Self.get(base + history).body).compactMap { $0["manifestDigest"] as? String }
        #expect(allScans.count == 2)
        let scanPages = try await Self.pages(base, history + "?limit=1")
        #expect(scanPages.count == 2)
        #expect(try scanPages.flatMap { try Self.array($0).compactMap { $0["manifestDigest"] as? String } } == allScans)

        // What the service did not give is refused.
        for path in [
            "/v1/jobs?cursor=bm90LWEtY3Vyc29y", "/v1/jobs?cursor=-5", "/v1/findings?cursor=e30", "/v1/findings?cursor=x:y", history + "?cursor=MQ",
            "/v1/images?cursor=%00", "/v1/images?q=%00", "/v1/images?q=x%00", "/v1/findings?id=%00", "/v1/findings?id=", "/v1/images/a%00b/1", "/v1/jobs?limit=0", "/v1/images?limit=1001", "/v1/findings?limit=-1", history + "?limit=x", "/v1/images?severity=SEVERE",
        ] {
            #expect(try await Self.get(base + path).status == 400, "\(path)")
        }

        // An image built on one of the fleet's (alpine's layer and one more): alpine's tags are its base.
        let derived = try Fixtures.temporaryDirectory("derived")
        let builder = try OCILayoutBuilder(directory: derived + "/oci")
        let alpineTar = derived + "/alpine.tar"
        try await Tool.run(["gzip", "-dc", Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")]).stdout
            .write(to: URL(fileURLWithPath: alpineTar))
        try await OCILayoutBuilder.makeTar(["srv/app/hello.txt": "hello\n"], at: derived + "/app.tar")
        let app = try await builder.addImage(layers: [(alpineTar, .gzip), (derived + "/app.tar", .gzip)])
        try builder.writeIndex([("app", [app])])
        try await registry.push("oci:\(derived)/oci:app", to: "paging/app-on-alpine", tag: "1")
        // And a name whose image is replaced once more (busybox by alpine): its sums move.
        try await registry.push("oci:\(layout.directory):gzip", to: repositories[0], tag: "1")
        try await ServiceTests.eventually("the derived image's scan and the replacement's", seconds: 120) {
            let summary = try ServiceTests.object(try await ServiceTests.request(.GET, "\(base)/v1/jobs/summary").body) as? [String: Int]
            guard summary?["done"] == repositories.count + 3 && summary?["queued"] == 0 && summary?["running"] == 0 else { return false }
            let zeta = try ServiceTests.object(try await ServiceTests.request(.GET, "\(base)/v1/images?repository=\(repositories[0])").body)
            return ((zeta["images"] as? [[String: Any]])?.first?["findings"] as? Int ?? 0) > 0
        }
        // The fleet summary, read from the rows kept as the reports landed, is what decoding every
        // report makes of them (the way `fathom registry` sums a fleet up).
        func summaryMatchesTheReports(_ when: String) async throws {
            var expected = FleetSummary(source: "fathom serve", advisoryVersion: "", top: 10)
            let everyImage = try names(try await Self.get("\(base)/v1/images?limit=1000").body)
            for image in everyImage {
                let path = image.drop { $0 != "/" }.dropFirst()
                let tag = try #require(path.lastIndex(of: ":"))
                let document = try await Self.get("\(base)/v1/images/\(path[..<tag])/\(path[path.index(after: tag)...])").body
                expected.add(report: try ScanReport.decode(Array(document)), name: image)
            }
            expected.finish(elapsed: .zero)
            var wanted = try ServiceTests.object(Data(try expected.json().utf8))
            var answer = try ServiceTests.object(try await Self.get("\(base)/v1/fleet/summary").body)
            for key in ["elapsedSeconds", "advisoryVersion"] {
                wanted[key] = nil
                answer[key] = nil
            }
            // The service's view is of no run: it says nothing fetched, where a sum of reports says 0.
            for key in ["layers", "bytes"] {
                #expect((answer[key] as? [String: Any])?["fetched"] == nil, "\(when)")
                var part = wanted[key] as? [String: Any]
                part?["fetched"] = nil
                wanted[key] = part
            }
            #expect((answer["images"] as? [String: Int])?["scanned"] == everyImage.count, "\(when)")
            #expect(((answer["bases"] as? [[String: Any]])?.first?["name"] as? String)?.hasSuffix(":1") == true, "\(when): \(answer["bases"] ?? "")")
            #expect(((answer["mostWidespread"] as? [Any])?.count ?? 0) > 0, "\(when)")
            #expect(NSDictionary(dictionary: answer) == NSDictionary(dictionary: wanted), "\(when): \(answer) is not \(wanted)")
        }
        try await summaryMatchesTheReports("as stored")
        try await unlistEveryReport()
        try await summaryMatchesTheReports("listed again")

        // A repository written with its registry, as image names are, pages as the repository.
        try await registry.push("oci:\(TestImages.busyboxMusl)", to: "paging/b1", tag: "2")
        try await ServiceTests.eventually("the second tag's scan", seconds: 120) {
            try names(try await Self.get("\(base)/v1/images?repository=paging/b1").body).count == 2
        }
        let b1 = ["\(registry.host)/paging/b1:1", "\(registry.host)/paging/b1:2"]
        for query in ["repository=\(registry.host)/paging/b1", "repository=\(registry.host)/paging/b1&registry=\(host)", "repository=\(host)/paging/b1&registry=\(registry.host)"] {
            let pages = try await Self.pages(base, "/v1/images?limit=1&\(query)")
            let listed = try pages.flatMap(names)
            #expect(pages.count == 2 && listed == b1, "\(query)")
        }
        // Another registry's, or two registries that differ: nothing.
        for query in ["repository=elsewhere:5000/paging/b1", "repository=\(registry.host)/paging/b1&registry=elsewhere"] {
            #expect(try names(try await Self.get("\(base)/v1/images?\(query)").body).isEmpty, "\(query)")
        }
    }
}
