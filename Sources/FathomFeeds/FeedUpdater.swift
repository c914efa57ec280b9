public import AsyncHTTPClient
import FathomAdvisory
public import FathomCore
import FathomRegistry
public import FathomStore
public import Foundation
import NIOCore
import NIOHTTP1

/// Downloads feeds and imports them, one at a time. A feed whose server says it has not changed
/// since the last download (`ETag`/`If-None-Match`, `Last-Modified`/`If-Modified-Since`) costs
/// one request and no import. A feed is imported whole or not at all: a failed download or a
/// file that does not parse leaves its previous advisories in place and is reported.
public struct FeedUpdater: Sendable {
    public enum Outcome: Sendable {
        case imported(AdvisoryImportResult)
        /// The server answered 304: the stored advisories are current.
        case notModified
        case failed(FathomError)
    }

    public struct Report: Sendable {
        public var feed: Feed
        public var outcome: Outcome
        /// Documents without advisories, and documents that could not be read (the rest imported).
        public var notes: [String] = []
        public var warnings: [String] = []
        /// Documents of the download that could not be read (their advisories are not imported).
        public var unread = 0
        public var bytes: Int64 = 0
    }

    let store: any AdvisorySource
    let http: HTTPClient
    let maxAttempts: Int
    let baseBackoff: Duration
    /// A feed larger than this is refused rather than filling the disk.
    let sizeLimit: Int64
    /// Hosts that did not answer after every retry in this run, with the reason: the other feeds
    /// they serve fail at once instead of each waiting out the same timeouts (offline, one
    /// update of every default feed would otherwise take many minutes to fail).
    private let unreachable = UnreachableHosts()

    final class UnreachableHosts: Sendable {
        private let hosts = Locked<[String: String]>([:])
        func reason(_ host: String) -> String? { hosts.withLock { $0[host] } }
        func record(_ host: String, _ reason: String) { hosts.withLock { $0[host] = reason } }
    }

    public init(
        store: any AdvisorySource, http: HTTPClient, maxAttempts: Int = 3, baseBackoff: Duration = .milliseconds(500),
        sizeLimit: Int64 = 4 << 30
    ) {
        self.store = store
        self.http = http
        self.maxAttempts = max(1, maxAttempts)
        self.baseBackoff = baseBackoff
        self.sizeLimit = sizeLimit
    }

    /// A client for feed servers. The pool does not retry a failed connection itself, so a
    /// refused one fails at once and the updater's own capped retries decide; the pool's default
    /// loop would hold each attempt until its 10 s connect timeout (30 s to report a refusal).
    /// A download that stops for a minute fails (the request's own deadline ends with the
    /// response's head, not its body).
    public static func makeHTTPClient() -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.retryConnectionEstablishment = false
        return HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(60)), connectionPool: pool))
    }

    /// The client of a long-running process (the service's scheduled updates), never shut down.
    package static let sharedHTTPClient = makeHTTPClient()

    /// Updates one feed; never throws (a failure is its outcome).
    public func update(_ feed: Feed, now: Date = Date()) async -> Report {
        var report = Report(feed: feed, outcome: .notModified)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fathom-feed-\(UUID().uuidString)-" + (URL(string: feed.url)?.lastPathComponent ?? "feed")).path
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            let previous = try await store.feedState(feed.name)
            guard let download = try await download(feed, to: file, previous: previous?.url == feed.url ? previous : nil) else {
                try await store.recordFeedState(
                    FeedState(source: feed.name, url: feed.url, etag: previous?.etag, lastModified: previous?.lastModified, fetchedAt: now))
                return report
            }
            report.bytes = download.bytes
            let contents = try await FeedReader.read(file)
            // Named by the feed's address, not the temporary file it was read from.
            report.notes = contents.notes.map { $0.replacingOccurrences(of: file, with: feed.url) }
            report.warnings = contents.warnings.map { $0.replacingOccurrences(of: file, with: feed.url) }
            report.unread = contents.warnings.count
            guard contents.documents > 0 else {
                // Said once, as the feed's error, by its address.
                let reason = report.warnings.first.map { ": \($0)" } ?? ""
                report.warnings = []
                throw FathomError(.invalidInput, "the download is not an advisory feed" + reason, path: feed.url)
            }
            let before = try await store.advisoryFeeds().first { $0.source == feed.name }?.records
            let result = try await store.importAdvisories(
                contents.records, scores: contents.scores, exploitation: contents.exploitation, source: feed.name, now: now)
            // A feed that shrank lost advisories (a mirror half synced, an export cut short): it
            // is imported, as upstream may withdraw records, but said as a warning.
            // Records skipped by rule count as kept: a store imported before a rule (RustSec's
            // notices) held them, and no advisory was lost.
            if result.changed, let before, result.records + contents.skippedRecords < before {
                report.warnings.append(
                    "\(feed.name): the download has fewer records (\(result.records)) than the \(before) it replaced"
                        + (before >= 10 && result.records * 2 < before ? ", less than half: check the feed's server or mirror" : ""))
            }
            try await store.recordFeedState(
                FeedState(source: feed.name, url: feed.url, etag: download.etag, lastModified: download.lastModified, fetchedAt: now))
            report.outcome = .imported(result)
        } catch {
            report.outcome = .failed(FathomError.wrapping(error).with(path: feed.url))
        }
        return report
    }

    struct Download {
        var bytes: Int64
        var etag: String?
        var lastModified: String?
    }

    /// Streams the feed into `path`; nil when the server says it has not changed.
    private func download(_ feed: Feed, to path: String, previous: FeedState?) async throws -> Download? {
        let host = URLComponents(string: feed.url).flatMap { components in components.host.map { "\($0)\(components.port.map { ":\($0)" } ?? "")" } } ?? feed.url
        if let reason = unreachable.reason(host) {
            throw FathomError(.transport, "not tried: \(host) could not be reached earlier in this run (\(reason))", path: feed.url)
        }
        var attempt = 0
        while true {
            attempt += 1
            var backoff = baseBackoff * (1 << (attempt - 1))
            var request = HTTPClientRequest(url: feed.url)
            request.headers.add(name: "User-Agent", value: FathomVersionInfo.userAgent)
            if let etag = previous?.etag { request.headers.add(name: "If-None-Match", value: etag) }
            if let modified = previous?.lastModified { request.headers.add(name: "If-Modified-Since", value: modified) }
            do {
                let response = try await http.execute(request, timeout: .seconds(600))
                let status = response.status.code
                if status == 304 { return nil }
                if status == 200 {
                    let bytes = try await write(response.body, to: path, url: feed.url)
                    return Download(
                        bytes: bytes, etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified"))
                }
                _ = try? await response.body.collect(upTo: 64 << 10)
                let failure = FathomError(.httpStatus, "the feed's server answered \(status)", path: feed.url)
                guard (status == 429 || status >= 500), attempt < maxAttempts else { throw failure }
            } catch let error as FathomError where error.code != .truncated {
                throw error
            } catch {
                // A refused connection, a reset, a download that broke off: worth another try.
                // A connection that failed (not a truncated body) waits longer than a server's
                // error does: it fails at once, and a host found down is not asked again this run.
                let connectionFailed = !(error is FathomError)
                let cause: any Error = connectionFailed ? TransportFailure(error, forRegistry: false) : error
                guard attempt < maxAttempts else {
                    if connectionFailed { unreachable.record(host, "\(cause)") }
                    throw FathomError(.transport, "downloading \(feed.url) failed after \(attempt) tr\(attempt == 1 ? "y" : "ies")", path: feed.url, cause: cause)
                }
                if connectionFailed { backoff *= 4 }
            }
            try await Task.sleep(for: backoff)
        }
    }

    private func write(_ body: HTTPClientResponse.Body, to path: String, url: String) async throws -> Int64 {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw FathomError(.io, "cannot create a temporary file for the download", path: path)
        }
        defer { try? handle.close() }
        var total: Int64 = 0
        do {
            for try await buffer in body {
                total += Int64(buffer.readableBytes)
                guard total <= sizeLimit else {
                    throw FathomError(.limitExceeded, "the feed is larger than \(sizeLimit) bytes", path: url)
                }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
        } catch let error as FathomError {
            throw error
        } catch {
            throw FathomError(.truncated, "the download of \(url) broke off after \(total) bytes", path: url, cause: error)
        }
        return total
    }
}
