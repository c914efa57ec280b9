import FathomCore
import FathomArchive
import FathomTestSupport
import Foundation
import Testing

/// The tar reader lists exactly what GNU tar lists, for real layers and for archives GNU tar
/// writes in each of its formats.
@Suite(.timeLimit(.minutes(2))) struct TarInteropTests {
    static let realLayers: [String] = [
        Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.7.3-x86_64.tar.gz"),
        Fixtures.image("alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"),
        Fixtures.image("busybox-oci/busybox-latest-glibc-amd64/blobs/sha256/b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3"),
        Fixtures.image("busybox-oci/busybox-latest-musl-amd64/blobs/sha256/5c3b447848a98e48dce106cb3e6acbd4fb6f9b26ee778798137349ce01f4d3c1"),
        Fixtures.image("ggcr-fixtures/content.tar.zst"),
    ]

    @Test(arguments: realLayers)
    func listsWhatGNUTarLists(_ path: String) async throws {
        let (summary, collector) = try await readLayerFile(path)
        #expect(collector.entries.map(\.name) == (try await tarListing(path)))
        #expect(collector.entries.map(\.kind.tarCharacter) == (try await tarTypes(path)))
        #expect(summary.entryCount == collector.entries.count)
        #expect(collector.entries.count >= 3)
    }

    /// The header walk (docker save and OCI archives) lists a GNU tar archive whole; one cut
    /// inside a member's body or inside a header is truncated; one that lacks only its last
    /// member's padding and the end blocks (a writer that stops there) is whole.
    @Test func theHeaderWalkSaysWhereAnArchiveWasCut() async throws {
        let directory = try Fixtures.temporaryDirectory("tar-cut")
        try FileManager.default.createDirectory(atPath: directory + "/root", withIntermediateDirectories: true)
        try writeFile(directory + "/root/a.txt", [UInt8](repeating: 1, count: 3000))
        try writeFile(directory + "/root/b.txt", Array("0123456789".utf8))
        try await Tool.run(["tar", "--format=gnu", "-cf", directory + "/whole.tar", "-C", directory + "/root", "a.txt", "b.txt"])
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/whole.tar")))
        func walk(_ bytes: [UInt8]) throws -> [String] {
            var paths: [String] = []
            try TarHeaderWalk.walk(size: Int64(bytes.count), location: "cut.tar", read: { Array(bytes[Int($0)..<Int($0) + $1]) }) { entry, _ in
                paths.append(entry.path)
            }
            return paths
        }
        #expect(try walk(whole) == ["a.txt", "b.txt"])
        // b.txt's header is at 512 + 3072; its 10 bytes follow.
        let bHeader = 512 + 3072
        #expect(try walk(Array(whole.prefix(bHeader + 512 + 10))) == ["a.txt", "b.txt"], "no padding, no end blocks")
        for (cut, says) in [(2000, "inside its member 'a.txt'"), (bHeader + 512 + 5, "inside its member 'b.txt'"), (bHeader + 100, "inside the header after 'a.txt'"), (100, "not a tar archive, or one cut short inside its first header (100 bytes")] {
            let error = #expect(throws: FathomError.self) { try walk(Array(whole.prefix(cut))) }
            #expect(error?.code == .truncated && error?.message.contains(says) == true, "\(cut): \(String(describing: error))")
        }
    }

    @Test(arguments: ["gnu", "pax", "ustar", "oldgnu", "posix"])
    func readsEveryGNUTarFormat(_ format: String) async throws {
        let directory = try Fixtures.temporaryDirectory("tar-\(format)")
        let root = directory + "/root"
        let longDirectory = root + "/" + String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 70)
        try FileManager.default.createDirectory(atPath: longDirectory, withIntermediateDirectories: true)
        // ustar can store at most 155 + 100 characters split at a slash; keep names within that for it.
        let longName = format == "ustar" ? String(repeating: "f", count: 90) : String(repeating: "f", count: 120)
        try writeFile(longDirectory + "/" + longName, Array("long name\n".utf8))
        try writeFile(root + "/plain.txt", Array("plain\n".utf8))
        try writeFile(root + "/big.bin", [UInt8](repeating: 7, count: 70_001))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "plain.txt")
        try FileManager.default.linkItem(atPath: root + "/plain.txt", toPath: root + "/hard")
        if format != "ustar" && format != "oldgnu" {
            try writeFile(root + "/ünïcødé-名前.txt", Array("unicode\n".utf8))
        }
        let archive = directory + "/layer.tar"
        try await Tool.run(["tar", "--format=\(format)", "-C", root, "-cf", archive, "."])
        for compression in ["", "gzip", "zstd"] {
            var path = archive
            if compression == "gzip" {
                try await Tool.run(["gzip", "-k", "-f", archive])
                path = archive + ".gz"
            } else if compression == "zstd" {
                try await Tool.run(["zstd", "-q", "-f", archive, "-o", archive + ".zst"])
                path = archive + ".zst"
            }
            let (summary, collector) = try await readLayerFile(path, collectBodies: true, chunkSize: 1000)
            #expect(collector.entries.map(\.name) == (try await tarListing(archive)), "format \(format) \(compression)")
            #expect(collector.entries.map(\.kind.tarCharacter) == (try await tarTypes(archive)))
            let long = collector.entries.first { $0.path.hasSuffix(longName) }
            #expect(long != nil)
            #expect(long.flatMap { collector.bodies[$0.path] } == Array("long name\n".utf8))
            #expect(collector.bodies["big.bin"]?.count == 70_001)
            #expect(collector.entries.first { $0.path == "link" }?.linkName == "plain.txt")
            let hard = collector.entries.first { $0.kind == .hardLink }
            #expect(hard.map { TarEntry.normalize($0.linkName) == "plain.txt" || TarEntry.normalize($0.linkName) == "hard" } == true)
            #expect(summary.uncompressedSize == Int64((try Data(contentsOf: URL(fileURLWithPath: archive))).count))
            #expect(
                summary.compression
                    == (compression == "gzip" ? .gzip : compression == "zstd" ? .zstd : LayerCompression.uncompressed))
        }
    }

    @Test func whiteoutsAreEntriesOfTheirOwnKind() async throws {
        let directory = try Fixtures.temporaryDirectory("whiteout")
        let root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root + "/etc/conf.d", withIntermediateDirectories: true)
        try writeFile(root + "/etc/.wh.passwd", [])
        try writeFile(root + "/etc/conf.d/.wh..wh..opq", [])
        try writeFile(root + "/.wh..wh.plnk", [])
        try await Tool.run(["tar", "-C", root, "-cf", directory + "/l.tar", "."])
        let (_, collector) = try await readLayerFile(directory + "/l.tar")
        let whiteout = collector.entries.first { $0.kind == .whiteout }
        #expect(whiteout?.whiteoutTarget == "etc/passwd")
        let opaque = collector.entries.first { $0.kind == .opaqueWhiteout }
        #expect(opaque?.whiteoutTarget == "etc/conf.d")
        #expect(collector.entries.first { $0.path == ".wh..wh.plnk" }?.kind == .other(UInt8(ascii: "0")))
    }

    @Test func busyboxLayerDigestAndDiffIDMatchTruth() async throws {
        let truth = try Fixtures.json(Fixtures.image("busybox-oci/busybox-oci.truth.json")) as! [String: Any]
        for layout in truth["layouts"] as! [[String: Any]] {
            let layerDigest = try Digest(parsing: layout["layerDigest"] as! String)
            let diffID = try Digest(parsing: layout["diffID"] as! String)
            let path = Fixtures.image("busybox-oci/\(layout["dir"] as! String)/blobs/sha256/\(layerDigest.encoded)")
            let (summary, _) = try await readLayerFile(
                path,
                expecting: LayerExpectation(digest: layerDigest, size: Int64(layout["layerSize"] as! Int), diffID: diffID))
            #expect(summary.digest == layerDigest)
            #expect(summary.compression == .gzip)
        }
    }

    @Test func zstdContentMatchesTruth() async throws {
        let (summary, collector) = try await readLayerFile(Fixtures.image("ggcr-fixtures/content.tar.zst"), collectBodies: true)
        #expect(summary.compression == .zstd)
        #expect(summary.uncompressedSize == 10240)
        #expect(collector.bodies["bat"] == Array("bat\n".utf8))
        #expect(collector.bodies["baz"] == Array("baz\n".utf8))
        // The decompressed bytes are the tar the truth names.
        let (plain, _) = try await readLayerFile(
            Fixtures.image("ggcr-fixtures/content.tar"),
            expecting: LayerExpectation(
                digest: try Digest(parsing: "sha256:3610aa5267a210147ba6ca02cdd87610dfc08522de9c5f5015edd8ee14853fd8"),
                size: 10240))
        #expect(plain.entryCount == summary.entryCount)
    }

    @Test func multiMemberGzipIsReadWhole() async throws {
        let directory = try Fixtures.temporaryDirectory("multimember")
        let root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for index in 0..<50 { try writeFile(root + "/file\(index)", Array(repeating: UInt8(index), count: 3000)) }
        try await Tool.run(["tar", "-C", root, "-cf", directory + "/l.tar", "."])
        let tar = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/l.tar")))
        // Split the tar in two and gzip each half: `cat a.gz b.gz` is a valid gzip of the whole.
        let half = tar.count / 2
        try writeFile(directory + "/a", Array(tar[..<half]))
        try writeFile(directory + "/b", Array(tar[half...]))
        let first = try await Tool.run(["gzip", "-c", directory + "/a"]).stdout
        let second = try await Tool.run(["gzip", "-c", directory + "/b"]).stdout
        let (summary, collector) = try await readLayerBytes([UInt8](first + second), chunkSize: 777)
        #expect(summary.uncompressedSize == Int64(tar.count))
        #expect(collector.entries.map(\.name) == (try await tarListing(directory + "/l.tar")))
    }
}
