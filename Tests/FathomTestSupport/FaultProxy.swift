import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A fault-injecting HTTP proxy in front of the real registry, for the faults the registry
/// itself cannot be made to produce: rate limiting, gateway errors, connection resets,
/// truncated and corrupted bodies. Requests not matched by a rule pass through unchanged.
public final class FaultProxy: Sendable {
    public enum Fault: Sendable {
        /// Answer with this status (and `Retry-After`, if given) instead of forwarding.
        case status(Int, retryAfter: String? = nil)
        /// Close the connection without answering.
        case reset
        /// Forward, but send only the first `keep` bytes of the body, then close.
        case truncate(keep: Int)
        /// Forward, with the body byte at `offset` inverted.
        case flipByte(offset: Int)
        /// Forward after waiting this long (a slow registry).
        case delay(Duration)
        /// Forward, but pause this long after the first `afterBytes` bytes of the body.
        case stall(afterBytes: Int, for: Duration)
        /// Forward another body of the same length (the bytes reversed): a wrong blob.
        case wrongBody
    }

    /// A request as the proxy saw it: when, and the fault it was given (nil: passed through).
    public struct Seen: Sendable {
        public var request: String
        public var at: ContinuousClock.Instant
        public var fault: String?
    }

    /// Faults drawn at random for requests no rule matched.
    struct RandomFaults {
        var rate: Double
        var faults: [Fault]
        var maxInARow: Int
        var generator: SplitMix64
        var inARow: [String: Int] = [:]
    }

    struct Rule {
        var pathContains: String
        var fault: Fault
        var remaining: Int
    }

    public let port: Int
    private let upstream: String
    private let rules = NIOLockedValueBox<[Rule]>([])
    private let log = NIOLockedValueBox<[Seen]>([])
    private let random = NIOLockedValueBox<RandomFaults?>(nil)
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let serving: NIOLockedValueBox<Task<Void, Never>?> = .init(nil)

    public var host: String { "127.0.0.1:\(port)" }

    /// `METHOD path` of every request received, in order.
    public var requests: [String] { log.withLockedValue { $0.map(\.request) } }
    /// Every request with its time and fault, in order.
    public var seen: [Seen] { log.withLockedValue { $0 } }

    public init(upstream: String) async throws {
        self.upstream = upstream
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        port = channel.channel.localAddress?.port ?? 0
        let channel = self.channel
        // The accept loop lives as long as the proxy; stop() cancels it.
        let task = Task<Void, Never> { [self] in
            _ = try? await channel.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in inbound {
                            group.addTask { await self.serve(connection) }
                        }
                    } catch {}
                }
            }
        }
        serving.withLockedValue { $0 = task }
    }

    /// Injects `fault` into the next `times` requests whose path contains `pathContains`.
    public func inject(_ fault: Fault, pathContains: String, times: Int = 1) {
        rules.withLockedValue { $0.append(Rule(pathContains: pathContains, fault: fault, remaining: times)) }
    }

    /// Gives each request no rule matched one of `faults` with probability `rate` (drawn from a
    /// generator seeded with `seed`), but never more than `maxInARow` faults in a row to the
    /// same path: a client that retries a few times always gets through, so a test of many
    /// requests is not flaky, and every kind of fault is still met many times.
    public func injectRandomly(rate: Double, faults: [Fault], maxInARow: Int = 2, seed: UInt64) {
        random.withLockedValue {
            $0 = RandomFaults(rate: rate, faults: faults, maxInARow: maxInARow, generator: SplitMix64(state: seed))
        }
    }

    public func stop() {
        serving.withLockedValue { $0?.cancel() }
        channel.channel.close(promise: nil)
    }

    private func takeFault(for path: String) -> Fault? {
        let ruled: Fault? = rules.withLockedValue { rules in
            guard let index = rules.firstIndex(where: { path.contains($0.pathContains) && $0.remaining > 0 }) else { return nil }
            rules[index].remaining -= 1
            return rules[index].fault
        }
        if let ruled { return ruled }
        return random.withLockedValue { state -> Fault? in
            guard var random = state else { return nil }
            defer { state = random }
            let roll = Double(random.generator.next() % 1_000_000) / 1_000_000
            guard roll < random.rate, random.inARow[path, default: 0] < random.maxInARow else {
                random.inARow[path] = 0
                return nil
            }
            random.inARow[path, default: 0] += 1
            return random.faults[Int(random.generator.next() % UInt64(random.faults.count))]
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let requestHead): head = requestHead
                case .body: break
                case .end:
                    guard let request = head else { continue }
                    let fault = takeFault(for: request.uri)
                    log.withLockedValue {
                        $0.append(Seen(request: "\(request.method) \(request.uri)", at: .now, fault: fault.map { "\($0)" }))
                    }
                    if case .reset = fault { return }
                    if case .delay(let duration) = fault { try await Task.sleep(for: duration) }
                    if case .status(let code, let retryAfter) = fault {
                        var headers = HTTPHeaders([("Content-Length", "0")])
                        if let retryAfter { headers.add(name: "Retry-After", value: retryAfter) }
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: .init(statusCode: code), headers: headers)))
                        try await outbound.write(.end(nil))
                        continue
                    }
                    var upstreamRequest = HTTPClientRequest(url: "http://\(upstream)\(request.uri)")
                    upstreamRequest.method = request.method
                    for (name, value) in request.headers where name.lowercased() != "host" {
                        upstreamRequest.headers.add(name: name, value: value)
                    }
                    let response = try await HTTPClient.shared.execute(upstreamRequest, timeout: .seconds(30))
                    var body = try await response.body.collect(upTo: 64 << 20)
                    var headers = response.headers
                    switch fault {
                    case .flipByte(let offset) where offset < body.readableBytes:
                        let byte = body.getInteger(at: body.readerIndex + offset, as: UInt8.self)!
                        body.setInteger(~byte, at: body.readerIndex + offset)
                    case .wrongBody where body.readableBytes > 0:
                        let reversed = Array(body.readableBytesView.reversed())
                        body = ByteBuffer(bytes: reversed)
                    case .stall(let afterBytes, let pause) where request.method != .HEAD && body.readableBytes > afterBytes:
                        headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
                        headers.remove(name: "Transfer-Encoding")
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(body.getSlice(at: body.readerIndex, length: afterBytes)!)))
                        try await Task.sleep(for: pause)
                        try await outbound.write(.body(.byteBuffer(body.getSlice(at: body.readerIndex + afterBytes, length: body.readableBytes - afterBytes)!)))
                        try await outbound.write(.end(nil))
                        head = nil
                        continue
                    case .truncate(let keep):
                        headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(body.getSlice(at: body.readerIndex, length: min(keep, body.readableBytes))!)))
                        return  // close mid-body
                    default:
                        break
                    }
                    headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
                    headers.remove(name: "Transfer-Encoding")
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
                    if request.method != .HEAD { try await outbound.write(.body(.byteBuffer(body))) }
                    try await outbound.write(.end(nil))
                    head = nil
                }
            }
        }
    }
}

/// SplitMix64: a small generator with a seed, so a run's random choices can be drawn again (the
/// fault proxy's faults, the CVSS tests' random vectors).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
