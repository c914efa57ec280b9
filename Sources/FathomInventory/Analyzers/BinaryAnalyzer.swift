// Executables that record what they were built from:
// - Go build information (Go's debug/buildinfo): a 16-byte-aligned "\xff Go buildinf:" header
//   followed by the Go version and the module information (`go version -m`). Go ≥ 1.18 stores
//   both strings inline; older toolchains store pointers to them.
// - Rust binaries built with cargo-auditable: a `.dep-v0` ELF section holding zlib-compressed
//   JSON of the crates compiled in (https://github.com/rust-secure-code/cargo-auditable).
import FathomCore
import FathomArchive
import Foundation

/// Go executables (the toolchain as the `stdlib` package, the main module and every
/// dependency, replacements reported as the module actually built in) and cargo-auditable
/// Rust executables (every registry crate compiled in).
public struct BinaryAnalyzer: StreamingAnalyzer {
    public let name = "binary"
    public init() {}

    /// Executables between 4 KiB and 2 GiB; ELF is confirmed from the first bytes.
    public func claims(_ entry: TarEntryInfo) -> Bool {
        entry.mode & 0o111 != 0 && entry.size >= 4096 && entry.size < (2 << 30)
            && !entry.path.hasSuffix(".so") && !entry.path.contains(".so.")
    }

    public func makeScanner(path: String, size: Int64) -> any StreamScanner {
        GoBuildInfoScanner(path: path, size: size)
    }
}

/// Finds and reads build information in one streamed binary, in bounded memory: the whole
/// file only when it is small (pre-1.18 pointers may point anywhere), else the first 64 KiB
/// (ELF headers) and 256 KiB from the magic on.
struct GoBuildInfoScanner: StreamScanner {
    static let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)
    static let keepWholeFileUpTo: Int64 = 16 << 20
    static let headBytes = 64 << 10
    static let captureBytes = 256 << 10

    let path: String
    let keepAll: Bool
    var position: Int64 = 0
    var notELF = false
    var whole: [UInt8] = []
    var head: [UInt8] = []
    var carry: [UInt8] = []
    var capture: [UInt8]?

    init(path: String, size: Int64) {
        self.path = path
        self.keepAll = size <= Self.keepWholeFileUpTo
        if keepAll { whole.reserveCapacity(Int(size)) }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if notELF { return }
        if position == 0, bytes.count >= 4, !(bytes[0] == 0x7f && bytes[1] == 0x45 && bytes[2] == 0x4c && bytes[3] == 0x46) {
            notELF = true
            return
        }
        defer { position += Int64(bytes.count) }
        if keepAll {
            whole.append(contentsOf: bytes)
            return
        }
        if head.count < Self.headBytes { head.append(contentsOf: bytes.prefix(Self.headBytes - head.count)) }
        if var captured = capture {
            if captured.count < Self.captureBytes { captured.append(contentsOf: bytes.prefix(Self.captureBytes - captured.count)) }
            capture = captured
            return
        }
        // Search for the magic at 16-byte-aligned file offsets: first across the boundary
        // (the carried tail plus this chunk's start), then within the chunk, without copying it.
        if !carry.isEmpty {
            let joined = carry + Array(bytes.prefix(Self.magic.count - 1))
            if let found = Self.findMagic(in: joined, baseOffset: position - Int64(carry.count)), found < carry.count {
                capture = Array(joined[found...]) + Array(bytes.dropFirst(Self.magic.count - 1).prefix(Self.captureBytes))
                return
            }
        }
        if let found = Self.findMagic(in: bytes, baseOffset: position) {
            capture = Array(bytes[found...].prefix(Self.captureBytes))
            return
        }
        carry = Array(bytes.suffix(Self.magic.count - 1))
    }

    static func findMagic(in array: [UInt8], baseOffset: Int64) -> Int? {
        array.withUnsafeBytes { findMagic(in: $0, baseOffset: baseOffset) }
    }

    static func findMagic(in bytes: UnsafeRawBufferPointer, baseOffset: Int64) -> Int? {
        var index = Int((16 - baseOffset % 16) % 16)
        while index + magic.count <= bytes.count {
            if bytes[index] == 0xff && bytes[index + 1] == 0x20 && bytes[index..<(index + magic.count)].elementsEqual(magic) {
                return index
            }
            index += 16
        }
        return nil
    }

    mutating func finish() -> AnalyzerResult {
        if notELF { return AnalyzerResult() }
        let info: [UInt8]
        let file: [UInt8]?
        if keepAll {
            guard let offset = Self.findMagic(in: whole, baseOffset: 0) else {
                return Self.rustAudit(whole, path: path) ?? AnalyzerResult()
            }
            info = Array(whole[offset...].prefix(Self.captureBytes))
            file = whole
        } else {
            guard let captured = capture else { return AnalyzerResult() }
            info = captured
            file = nil
        }
        do {
            let (version, modinfo) = try Self.read(info, file: file ?? head)
            return Self.packages(goVersion: version, modinfo: modinfo, path: path)
        } catch {
            return AnalyzerResult(warnings: ["\(path): Go build information is unreadable: \(error)"])
        }
    }

    /// cargo-auditable's `.dep-v0` section, when the whole file is at hand.
    static func rustAudit(_ file: [UInt8], path: String) -> AnalyzerResult? {
        guard let elf = try? ELF(file), let section = elf.section(named: ".dep-v0", in: file) else { return nil }
        do {
            let json = try Inflate.inflate(section, wrapper: .zlib, limit: 8 << 20)
            guard let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
                let entries = object["packages"] as? [[String: Any]]
            else { return AnalyzerResult(warnings: ["\(path): cargo-auditable data is not the expected JSON"]) }
            let packages = entries.compactMap { entry -> Package? in
                guard let name = entry["name"] as? String, let version = entry["version"] as? String,
                    (entry["source"] as? String ?? "crates.io") != "local"
                else { return nil }
                return Package(ecosystem: "crates", name: name, version: version, path: path)
            }
            return AnalyzerResult(packages: packages)
        } catch {
            return AnalyzerResult(warnings: ["\(path): cargo-auditable data is unreadable: \(error)"])
        }
    }

    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    /// The Go version and module information from the build-info header.
    static func read(_ info: [UInt8], file: [UInt8]) throws -> (String, String) {
        guard info.count >= 32 else { throw Unreadable(description: "header cut short") }
        let pointerSize = Int(info[14])
        let flags = info[15]
        if flags & 0x2 != 0 {
            // Inline: varint-length-prefixed version and modinfo after the 32-byte header.
            var offset = 32
            func string() throws -> String {
                var length = 0
                var shift = 0
                while true {
                    guard offset < info.count, shift < 35 else { throw Unreadable(description: "bad string length") }
                    let byte = info[offset]
                    offset += 1
                    length |= Int(byte & 0x7f) << shift
                    if byte & 0x80 == 0 { break }
                    shift += 7
                }
                guard length >= 0, offset + length <= info.count else { throw Unreadable(description: "string runs past the captured bytes") }
                defer { offset += length }
                return String(decoding: info[offset..<(offset + length)], as: UTF8.self)
            }
            return (try string(), stripSentinels(try string()))
        }
        // Pointers to Go string headers (pointer, length), resolved through the ELF program headers.
        guard pointerSize == 4 || pointerSize == 8 else { throw Unreadable(description: "pointer size \(pointerSize)") }
        let bigEndian = flags & 0x1 != 0
        let elf = try ELF(file)
        func pointer(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.unsignedInteger(at: 0, size: bytes.count, bigEndian: bigEndian) ?? 0
        }
        func goString(at address: UInt64) throws -> String {
            guard let header = elf.read(address: address, count: 2 * pointerSize, from: file).map(Array.init) else {
                throw Unreadable(description: "string header at 0x\(String(address, radix: 16)) is outside the file")
            }
            let data = pointer(header[0..<pointerSize])
            let length = Int(pointer(header[pointerSize..<(2 * pointerSize)]))
            guard length < (1 << 20), let bytes = elf.read(address: data, count: length, from: file) else {
                throw Unreadable(description: "string at 0x\(String(data, radix: 16)) is outside the file")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        let versionAddress = pointer(info[16..<(16 + pointerSize)])
        let modinfoAddress = pointer(info[(16 + pointerSize)..<(16 + 2 * pointerSize)])
        return (try goString(at: versionAddress), stripSentinels(try goString(at: modinfoAddress)))
    }

    /// modinfo is wrapped in two 16-byte sentinels.
    static func stripSentinels(_ modinfo: String) -> String {
        let bytes = Array(modinfo.utf8)
        guard bytes.count >= 33, bytes[bytes.count - 17] == UInt8(ascii: "\n") else { return modinfo }
        return String(decoding: bytes[16..<(bytes.count - 16)], as: UTF8.self)
    }

    static func packages(goVersion: String, modinfo: String, path: String) -> AnalyzerResult {
        var packages: [Package] = []
        var local: [String] = []
        if goVersion.hasPrefix("go") {
            // "go1.22.0" (possibly "go1.22.0 X:boringcrypto") → stdlib v1.22.0.
            let version = "v" + (goVersion.dropFirst(2).split(separator: " ").first.map(String.init) ?? "")
            packages.append(Package(ecosystem: "go", name: "stdlib", version: version, path: path))
        }
        var dependencies: [(String, String)] = []
        for line in modinfo.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { continue }
            switch fields[0] {
            case "mod": packages.append(Package(ecosystem: "go", name: fields[1], version: fields[2], path: path))
            case "dep": dependencies.append((fields[1], fields[2]))
            case "=>" where !dependencies.isEmpty:
                // The replacement is what was built in. One by a local directory (`=> ./net`)
                // is a copy of unknown version: neither the module it replaces nor the
                // directory can be checked, and the report says so.
                if fields[1].hasPrefix(".") || fields[1].hasPrefix("/") {
                    local.append("\(dependencies.removeLast().0) (by \(fields[1]))")
                } else {
                    dependencies[dependencies.count - 1] = (fields[1], fields[2].isEmpty ? dependencies[dependencies.count - 1].1 : fields[2])
                }
            default: break
            }
        }
        packages += dependencies.map { Package(ecosystem: "go", name: $0.0, version: $0.1, path: path) }
        let warning = "\(path): \(local.count) Go module\(local.count == 1 ? " is" : "s are") replaced by a local directory, a copy of "
            + "unknown version, and not checked: \(local.prefix(3).joined(separator: ", "))\(local.count > 3 ? ", …" : "")"
        return AnalyzerResult(packages: packages, warnings: local.isEmpty ? [] : [warning])
    }
}

/// The few ELF facts needed to turn a virtual address into a file offset.
struct ELF {
    struct Segment {
        var offset: UInt64
        var address: UInt64
        var size: UInt64
    }
    var segments: [Segment] = []
    var is64 = true
    var bigEndian = false

    init(_ file: [UInt8]) throws {
        guard file.count >= 64, file[0] == 0x7f, file[1] == 0x45, file[2] == 0x4c, file[3] == 0x46 else {
            throw GoBuildInfoScanner.Unreadable(description: "not an ELF file")
        }
        is64 = file[4] == 2
        bigEndian = file[5] == 2
        let bigEndian = self.bigEndian
        let is64 = self.is64
        func value(_ offset: Int, _ size: Int) -> UInt64? { file.unsignedInteger(at: offset, size: size, bigEndian: bigEndian) }
        guard let phoff = value(is64 ? 0x20 : 0x1c, is64 ? 8 : 4), let entrySize = value(is64 ? 0x36 : 0x2a, 2),
            let count = value(is64 ? 0x38 : 0x2c, 2), count < 4096, phoff < UInt64(file.count)
        else { throw GoBuildInfoScanner.Unreadable(description: "ELF program headers are malformed") }
        for index in 0..<Int(count) {
            let base = Int(phoff) + index * Int(entrySize)
            guard value(base, 4) == 1 else { continue }  // PT_LOAD
            let segment: Segment?
            if is64 {
                segment = value(base + 8, 8).flatMap { offset in
                    value(base + 16, 8).flatMap { address in value(base + 32, 8).map { Segment(offset: offset, address: address, size: $0) } }
                }
            } else {
                segment = value(base + 4, 4).flatMap { offset in
                    value(base + 8, 4).flatMap { address in value(base + 16, 4).map { Segment(offset: offset, address: address, size: $0) } }
                }
            }
            if let segment { segments.append(segment) }
        }
    }

    func value(_ file: [UInt8], _ offset: Int, _ size: Int) -> UInt64? {
        file.unsignedInteger(at: offset, size: size, bigEndian: bigEndian)
    }

    /// A section's bytes, found by name through the section header string table.
    func section(named wanted: String, in file: [UInt8]) -> ArraySlice<UInt8>? {
        guard let shoff = value(file, is64 ? 0x28 : 0x20, is64 ? 8 : 4), let entrySize = value(file, is64 ? 0x3a : 0x2e, 2),
            let count = value(file, is64 ? 0x3c : 0x30, 2), let names = value(file, is64 ? 0x3e : 0x32, 2),
            count > 0, count < 65536, names < count, shoff < UInt64(file.count)
        else { return nil }
        func header(_ index: Int) -> (name: UInt64, offset: UInt64, size: UInt64)? {
            let base = Int(shoff) + index * Int(entrySize)
            if is64 {
                guard let name = value(file, base, 4), let offset = value(file, base + 24, 8), let size = value(file, base + 32, 8) else { return nil }
                return (name, offset, size)
            }
            guard let name = value(file, base, 4), let offset = value(file, base + 16, 4), let size = value(file, base + 20, 4) else { return nil }
            return (name, offset, size)
        }
        guard let strings = header(Int(names)), strings.offset + strings.size <= UInt64(file.count) else { return nil }
        let wantedBytes = Array(wanted.utf8) + [0]
        for index in 0..<Int(count) {
            guard let section = header(index) else { return nil }
            let nameStart = Int(strings.offset + section.name)
            guard nameStart + wantedBytes.count <= file.count, file[nameStart..<(nameStart + wantedBytes.count)].elementsEqual(wantedBytes)
            else { continue }
            guard section.offset + section.size <= UInt64(file.count) else { return nil }
            return file[Int(section.offset)..<Int(section.offset + section.size)]
        }
        return nil
    }

    func read(address: UInt64, count: Int, from file: [UInt8]) -> ArraySlice<UInt8>? {
        for segment in segments where address >= segment.address && address - segment.address < segment.size {
            let start = segment.offset + (address - segment.address)
            guard start + UInt64(count) <= UInt64(file.count) else { return nil }
            return file[Int(start)..<(Int(start) + count)]
        }
        return nil
    }
}
