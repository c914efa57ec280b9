import FathomCore
import FathomTestSupport
import Foundation
import Testing

@Suite struct DigestTests {
    @Test(arguments: [
        "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc",
        "sha512:" + String(repeating: "ab", count: 64),
    ])
    func parsesValidDigests(_ text: String) throws {
        let digest = try Digest(parsing: text)
        #expect(digest.description == text)
    }

    @Test(arguments: [
        "", "sha256", "sha256:", "sha256:ABCDEF", "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:0958E0FEF2D6A31E1325B8BFECD99DEAD933363682D69850A7606599023751BC",
        "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751b",
        "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bcz",
    ])
    func rejectsInvalidDigests(_ text: String) {
        #expect(throws: FathomError.self) { try Digest(parsing: text) }
    }

    @Test func streamingHashMatchesSha256sum() async throws {
        // Several chunk sizes, against the system sha256sum as the oracle.
        var bytes: [UInt8] = []
        var state: UInt32 = 12345
        for _ in 0..<300_000 {
            state = state &* 1_103_515_245 &+ 12345
            bytes.append(UInt8(truncatingIfNeeded: state >> 16))
        }
        let expected = try await Tool.run(["sha256sum"], input: Data(bytes)).text.split(separator: " ")[0]
        for chunk in [1, 511, 4096, 65536] {
            var hasher = DigestHasher()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                hasher.update(Array(bytes[offset..<end]))
                offset = end
            }
            #expect(hasher.finalize().encoded == String(expected))
            #expect(hasher.count == Int64(bytes.count))
        }
    }

    @Test func errorDescriptionNamesImageLayerFileAndCause() {
        struct Cause: Error, CustomStringConvertible { var description: String { "inflate: invalid distance" } }
        let error = FathomError(
            .corruptCompression, "gzip stream is corrupt", image: "oci:/x", layer: "sha256:ab", path: "etc/passwd",
            cause: Cause())
        #expect(
            error.description
                == "image oci:/x: layer sha256:ab: file etc/passwd: corrupt compressed stream: gzip stream is corrupt: inflate: invalid distance"
        )
        #expect(!error.description.contains("\n"))
    }

    /// Foundation's file errors with no system error beneath are said in words, never as
    /// "The operation could not be completed. (NSCocoaErrorDomain error 512.)".
    @Test func foundationsOwnFileErrorsAreSaidInWords() {
        #expect(FathomError.plain(NSError(domain: NSCocoaErrorDomain, code: 512)) == "the file could not be written")
        #expect(FathomError.plain(NSError(domain: NSCocoaErrorDomain, code: 513)) == String(cString: strerror(EACCES)))
        #expect(FathomError.plain(NSError(domain: NSCocoaErrorDomain, code: 260)) == String(cString: strerror(ENOENT)))
        // Writing to a directory, as Foundation reports it here.
        do {
            try Data("x".utf8).write(to: URL(fileURLWithPath: NSTemporaryDirectory()))
            Issue.record("a directory was written as a file")
        } catch {
            #expect(!FathomError.plain(error).contains("NSCocoaErrorDomain"), "\(FathomError.plain(error))")
        }
    }
}
