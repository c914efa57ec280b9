import FathomCore
import FathomArchive
import FathomTestSupport
import Foundation
import Testing

/// Damaged layers fail with a clear error naming the layer and the cause, never a crash or hang.
@Suite(.timeLimit(.minutes(3))) struct BadInputTests {
    static let gzipLayer = Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz")

    func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func truncatedBlobIsReportedAsTruncated() async throws {
        let full = try bytes(Self.gzipLayer)
        let truncated = Array(full.prefix(full.count / 2))
        let expectation = LayerExpectation(digest: Digest.sha256(of: full), size: Int64(full.count))
        let error = await #expect(throws: FathomError.self) {
            try await readLayerBytes(truncated, expecting: expectation)
        }
        #expect(error?.code == .truncated)
        #expect(error?.layer == Digest.sha256(of: full).description)
        #expect(error?.message.contains("\(truncated.count) of \(full.count) bytes") == true)
    }

    @Test func oversizedBlobIsASizeMismatch() async throws {
        let full = try bytes(Self.gzipLayer)
        let expectation = LayerExpectation(digest: Digest.sha256(of: full), size: Int64(full.count - 10))
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(full, expecting: expectation) }
        #expect(error?.code == .sizeMismatch)
    }

    @Test func flippedByteIsADigestMismatchWithTheDecodeErrorAsCause() async throws {
        let full = try bytes(Self.gzipLayer)
        var damaged = full
        damaged[full.count / 3] ^= 0xff
        let expectation = LayerExpectation(digest: Digest.sha256(of: full), size: Int64(full.count))
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(damaged, expecting: expectation) }
        #expect(error?.code == .digestMismatch)
        #expect(error?.cause != nil)
    }

    @Test func corruptGzipWithMatchingDigestIsACorruptStream() async throws {
        var damaged = try bytes(Self.gzipLayer)
        for index in 2000..<2100 { damaged[index] = 0xff }
        // The descriptor agrees with the damaged bytes: only the decoder can notice.
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(damaged) }
        #expect(error?.code == .corruptCompression)
        #expect(error?.layer != nil)
    }

    @Test func corruptZstdIsACorruptStream() async throws {
        var damaged = try bytes(Fixtures.image("ggcr-fixtures/content.tar.zst"))
        for index in 8..<damaged.count - 4 { damaged[index] ^= 0x5a }
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(damaged) }
        #expect(error?.code == .corruptCompression || error?.code == .truncated)
        #expect(error?.description.contains("zstd") == true)
    }

    @Test func truncatedZstdFrameIsTruncated() async throws {
        let full = try bytes(Fixtures.image("ggcr-fixtures/content.tar.zst"))
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(Array(full.dropLast(6))) }
        #expect(error?.code == .truncated || error?.code == .corruptCompression)
    }

    @Test func tarHeaderChecksumFailureNamesTheEntryBefore() async throws {
        var tar = try bytes(Fixtures.image("ggcr-fixtures/content.tar"))
        // The second header (after '.' with no body) is at 512: damage its name.
        tar[512 + 1] ^= 0x20
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(tar) }
        #expect(error?.code == .corruptTar)
        #expect(error?.message.contains("checksum") == true)
        #expect(error?.message.contains("after entry './'") == true)
    }

    @Test func tarCutInsideAnEntryIsTruncated() async throws {
        let tar = try bytes(Fixtures.image("ggcr-fixtures/content.tar"))
        // Cut after the 'bat' header, in the middle of nowhere: 512 ('.') + 512 (bat header) + 2 bytes.
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(Array(tar.prefix(1026))) }
        #expect(error?.code == .truncated)
        #expect(error?.path == "./bat")
    }

    @Test func emptyBlobReadsAsAnEmptyTar() async throws {
        let expectation = LayerExpectation(digest: Digest.sha256(of: []), size: 0)
        // An empty blob is an empty tar stream by magic; it reads as zero entries, not a crash.
        let (summary, collector) = try await readLayerBytes([], expecting: expectation)
        #expect(summary.entryCount == 0)
        #expect(collector.entries.isEmpty)
    }

    @Test func randomBytesAreRejected() async throws {
        var state: UInt64 = 42
        let noise = (0..<4096).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(noise) }
        #expect(error?.code == .corruptTar)
    }

    /// A limit is reported only for the bytes the digest promised: the same bomb under a wrong
    /// digest is a digest mismatch (damage in transit, read again), with the limit as its cause.
    @Test func aBombIsALimitOnlyWhenItsDigestHolds() async throws {
        let bomb = try await HostileLayers.gzipBomb(claimed: 1 << 30, members: 8, memberBytes: 64 << 20)
        var collector = EntryCollector()
        let limits = ReadLimits.default
        let verified = await #expect(throws: FathomError.self) {
            try await LayerReader.read(
                .memory(bomb, chunkSize: 65536), expecting: LayerExpectation(digest: Digest.sha256(of: bomb), size: Int64(bomb.count)),
                limits: limits, handler: &collector)
        }
        #expect(verified?.code == .limitExceeded && verified?.message.contains("decompression bomb") == true, "\(String(describing: verified))")
        let damaged = await #expect(throws: FathomError.self) {
            try await LayerReader.read(
                .memory(bomb, chunkSize: 65536), expecting: LayerExpectation(digest: Digest.sha256(of: [1, 2, 3]), size: Int64(bomb.count)),
                limits: limits, handler: &collector)
        }
        #expect(damaged?.code == .digestMismatch, "\(String(describing: damaged))")
        #expect((damaged?.cause as? FathomError)?.code == .limitExceeded)
    }

    @Test func oversizedPAXRecordIsRefused() async throws {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte } }
        put("PaxHeaders/x", at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(String(1 << 30, radix: 8).leftPadded(11) , at: 124)
        put("00000000000", at: 136)
        header[156] = UInt8(ascii: "x")
        put("ustar\u{0}00", at: 257)
        put("        ", at: 148)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(sum, radix: 8).leftPadded(6) + "\u{0} ", at: 148)
        let error = await #expect(throws: FathomError.self) { try await readLayerBytes(header + [UInt8](repeating: 0, count: 1024)) }
        #expect(error?.code == .limitExceeded)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
