import FathomCore

/// A push-driven tar reader: feed it decoded bytes in chunks of any size and it calls the
/// handler for each entry, collecting only the bodies the handler claims. Memory stays bounded by
/// one header, one metadata record and the claimed bodies (each capped by its claim).
public struct TarStreamParser {
    private enum State {
        case header
        case body(entry: TarEntry, remaining: Int64, mode: BodyMode)
        case metadata(typeflag: UInt8, name: String, remaining: Int64)
        case padding(Int)
        case ended
    }

    private enum BodyMode {
        case skip
        case collect
        case stream
    }

    private var state: State = .header
    private var headerBuffer: [UInt8] = []
    private var collected: [UInt8] = []
    private var pending = TarPendingMetadata()
    private var lastEntryName: String?

    /// Entries seen so far (metadata records not counted).
    public private(set) var entryCount = 0
    /// Regular files seen so far.
    public private(set) var fileCount = 0
    /// Whether the end-of-archive marker was read.
    public private(set) var sawEndMarker = false
    /// Entries allowed before the stream is refused (a layer of millions of empty entries).
    private let maxEntries: Int
    /// The largest entry size a header may claim (a header claiming 1 TB is refused at once).
    private let maxEntrySize: Int64

    public init(maxEntries: Int = .max, maxEntrySize: Int64 = .max) {
        self.maxEntries = maxEntries
        self.maxEntrySize = maxEntrySize
    }

    /// Consumes `input`, calling `handler` for the entries it completes.
    public mutating func feed<Handler: TarEntryHandler>(
        _ input: UnsafeRawBufferPointer, handler: inout Handler
    ) throws {
        var offset = 0
        let count = input.count
        while offset < count {
            switch state {
            case .ended:
                return  // padding to the record size after the end marker
            case .padding(let remaining):
                let take = min(remaining, count - offset)
                offset += take
                state = take == remaining ? .header : .padding(remaining - take)
            case .header:
                if headerBuffer.isEmpty && count - offset >= TarHeader.blockSize {
                    let block = UnsafeRawBufferPointer(rebasing: input[offset..<(offset + TarHeader.blockSize)])
                    offset += TarHeader.blockSize
                    try processHeader(block, handler: &handler)
                } else {
                    let take = min(TarHeader.blockSize - headerBuffer.count, count - offset)
                    headerBuffer.append(contentsOf: input[offset..<(offset + take)])
                    offset += take
                    if headerBuffer.count == TarHeader.blockSize {
                        let block = headerBuffer
                        headerBuffer.removeAll(keepingCapacity: true)
                        try block.withUnsafeBytes { try processHeader($0, handler: &handler) }
                    }
                }
            case .body(let entry, let remaining, let mode):
                let take = Int(min(remaining, Int64(count - offset)))
                switch mode {
                case .collect: collected.append(contentsOf: input[offset..<(offset + take)])
                case .stream: try handler.receiveChunk(entry, UnsafeRawBufferPointer(rebasing: input[offset..<(offset + take)]))
                case .skip: break
                }
                offset += take
                if Int64(take) == remaining {
                    switch mode {
                    case .collect:
                        let body = collected
                        collected = []
                        try handler.receive(entry, body: body, complete: true)
                    case .stream: try handler.endOfBody(entry)
                    case .skip: break
                    }
                    enterPadding(after: entry.size)
                } else {
                    state = .body(entry: entry, remaining: remaining - Int64(take), mode: mode)
                }
            case .metadata(let typeflag, let name, let remaining):
                let take = Int(min(remaining, Int64(count - offset)))
                collected.append(contentsOf: input[offset..<(offset + take)])
                offset += take
                if Int64(take) == remaining {
                    let body = collected
                    collected = []
                    do {
                        try pending.absorb(typeflag: typeflag, body: body)
                    } catch var error as FathomError {
                        error.path = name
                        throw error
                    }
                    enterPadding(after: Int64(body.count))
                } else {
                    state = .metadata(typeflag: typeflag, name: name, remaining: remaining - Int64(take))
                }
            }
        }
    }

    /// Checks the stream ended on an entry boundary.
    public func finish() throws {
        switch state {
        case .ended, .padding:
            return
        case .header:
            guard headerBuffer.isEmpty else {
                throw FathomError(.truncated, "tar stream ends inside a header", path: lastEntryName)
            }
        case .body(let entry, let remaining, _):
            throw FathomError(
                .truncated, "tar stream ends with \(remaining) of \(entry.size) bytes of an entry missing",
                path: entry.name)
        case .metadata(_, let name, _):
            throw FathomError(.truncated, "tar stream ends inside an extended header", path: name)
        }
    }

    private mutating func enterPadding(after size: Int64) {
        let padding = Int((Int64(TarHeader.blockSize) - size % Int64(TarHeader.blockSize)) % Int64(TarHeader.blockSize))
        state = padding == 0 ? .header : .padding(padding)
    }

    private mutating func processHeader<Handler: TarEntryHandler>(
        _ block: UnsafeRawBufferPointer, handler: inout Handler
    ) throws {
        if TarHeader.isZeroBlock(block) {
            // End of archive. A second zero block and the record padding may follow; nothing
            // after the first zero block belongs to the archive.
            sawEndMarker = true
            state = .ended
            return
        }
        let header: TarHeader
        do {
            header = try TarHeader(block: block)
        } catch var error as FathomError {
            if let lastEntryName { error.message += " (after entry '\(lastEntryName)')" }
            throw error
        }
        if TarPendingMetadata.isMetadata(header.typeflag) {
            guard header.size <= ByteLimits.tarMetadata else {
                throw FathomError(
                    .limitExceeded, "tar extended header of \(header.size) bytes is over the \(ByteLimits.tarMetadata)-byte limit",
                    path: header.name)
            }
            collected.removeAll(keepingCapacity: true)
            state = header.size == 0 ? .header : .metadata(typeflag: header.typeflag, name: header.name, remaining: header.size)
            return
        }
        let entry = pending.makeEntry(header)
        entryCount += 1
        guard entryCount <= maxEntries else {
            throw FathomError(
                .limitExceeded, "the layer has more than \(maxEntries) tar entries (--max-layer-entries)", path: entry.name)
        }
        guard entry.size <= maxEntrySize else {
            throw FathomError(
                .limitExceeded,
                "the tar entry claims \(entry.size) bytes, more than the layer may expand to (\(ReadLimits.describe(maxEntrySize)), --max-layer-bytes)",
                path: entry.name)
        }
        if entry.kind == .file { fileCount += 1 }
        lastEntryName = entry.name
        var mode = BodyMode.skip
        switch handler.claim(entry) {
        case .collect(let limit):
            if entry.size <= Int64(limit) {
                mode = .collect
                collected.removeAll(keepingCapacity: true)
                collected.reserveCapacity(Int(entry.size))
            } else {
                try handler.receive(entry, body: [], complete: false)
            }
        case .stream:
            mode = .stream
        case .skip:
            break
        }
        if entry.size == 0 {
            switch mode {
            case .collect: try handler.receive(entry, body: [], complete: true)
            case .stream: try handler.endOfBody(entry)
            case .skip: break
            }
            state = .header
        } else {
            state = .body(entry: entry, remaining: entry.size, mode: mode)
        }
    }
}
