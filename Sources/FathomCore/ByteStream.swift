/// A pull-based stream of byte chunks: the consumer asks for the next chunk when it is ready,
/// so a slow consumer holds the producer back (no buffering beyond one chunk).
///
/// Sources hand one out only inside a scope (`withBlob(_:body:)`), never as a value that
/// outlives the file or HTTP response behind it.
public struct ByteStream: AsyncSequence {
    public typealias Element = [UInt8]

    private let makeNext: () -> (() async throws -> [UInt8]?)

    /// A stream whose iterator calls `next` until it returns nil.
    public init(_ makeNext: @escaping () -> (() async throws -> [UInt8]?)) {
        self.makeNext = makeNext
    }

    /// A stream over bytes already in memory, in chunks of `chunkSize`.
    public static func memory(_ bytes: [UInt8], chunkSize: Int = 64 * 1024) -> ByteStream {
        ByteStream {
            var offset = 0
            return {
                guard offset < bytes.count else { return nil }
                let end = Swift.min(offset + chunkSize, bytes.count)
                defer { offset = end }
                return Array(bytes[offset..<end])
            }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let next: () async throws -> [UInt8]?
        public mutating func next() async throws -> [UInt8]? { try await next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(next: makeNext()) }
}
