// The rpm header as rpmdb stores it (rpm's lib/header.c, headerImport): big-endian
// index count and data length, then 16-byte index entries (tag, type, offset, count), then
// the data store. Read here in Swift against the format, with every offset bounds-checked.

import FathomCore

/// The fields of an rpm header fathom needs.
struct RpmHeader {
    var name: String?
    var epoch: Int?
    var version: String?
    var release: String?
    var arch: String?
    var sourceRPM: String?
    var modularityLabel: String?
    var vendor: String?
    /// The installed files as rpm keeps them: each base name with the index of its directory.
    var baseNames: [String] = []
    var dirNames: [String] = []
    var dirIndexes: [Int] = []

    enum Tag: Int32 {
        case name = 1000
        case version = 1001
        case release = 1002
        case epoch = 1003
        case vendor = 1011
        case arch = 1022
        case sourceRPM = 1044
        case dirIndexes = 1116
        case baseNames = 1117
        case dirNames = 1118
        case modularityLabel = 5096
    }

    /// The package's files, as absolute paths (`rpm -ql`); a base name whose directory index is
    /// out of range is left out.
    var files: [String] {
        zip(baseNames, dirIndexes).compactMap { name, index in dirNames.indices.contains(index) ? dirNames[index] + name : nil }
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static let stringType: UInt32 = 6
    static let int32Type: UInt32 = 4
    static let stringArrayType: UInt32 = 8
    static let i18nStringType: UInt32 = 9

    init(blob: ArraySlice<UInt8>) throws {
        func u32(_ offset: Int) throws -> UInt32 {
            guard let value = blob.u32(offset, bigEndian: true) else { throw Malformed(description: "header cut short at byte \(offset)") }
            return value
        }
        let indexCount = Int(try u32(0))
        let dataLength = Int(try u32(4))
        guard indexCount > 0, indexCount < 0x10000, dataLength < 0x1000_0000 else {
            throw Malformed(description: "header claims \(indexCount) entries and \(dataLength) data bytes")
        }
        let dataStart = 8 + indexCount * 16
        guard dataStart + dataLength <= blob.count else {
            throw Malformed(description: "header needs \(dataStart + dataLength) bytes but has \(blob.count)")
        }
        // A NUL-terminated string of the data store and its length in bytes, NUL included.
        func cString(at offset: Int) -> (value: String, length: Int)? {
            guard offset >= 0, offset < dataLength else { return nil }
            let start = blob.startIndex + dataStart + offset
            let end = blob[start..<(blob.startIndex + dataStart + dataLength)].firstIndex(of: 0)
            guard let end else { return nil }
            return (String(decoding: blob[start..<end], as: UTF8.self), end - start + 1)
        }
        func string(at offset: Int) -> String? { cString(at: offset)?.value }
        for index in 0..<indexCount {
            let entry = 8 + index * 16
            guard let tag = Tag(rawValue: Int32(bitPattern: try u32(entry))) else { continue }
            let type = try u32(entry + 4)
            let offset = Int(Int32(bitPattern: try u32(entry + 8)))
            let count = try u32(entry + 12)
            switch tag {
            case .epoch:
                guard type == Self.int32Type, count >= 1, offset >= 0, offset + 4 <= dataLength else { continue }
                epoch = Int(try u32(dataStart + offset))
            case .dirIndexes:
                guard type == Self.int32Type, offset >= 0, Int(count) <= (dataLength - offset) / 4 else { continue }
                dirIndexes = try (0..<Int(count)).map { Int(try u32(dataStart + offset + $0 * 4)) }
            case .baseNames, .dirNames:
                guard type == Self.stringArrayType, offset >= 0, Int(count) <= dataLength else { continue }
                var strings: [String] = []
                var at = offset
                for _ in 0..<Int(count) {
                    guard let (value, length) = cString(at: at) else { break }
                    strings.append(value)
                    at += length
                }
                if tag == .baseNames { baseNames = strings } else { dirNames = strings }
            default:
                guard type == Self.stringType || type == Self.i18nStringType else { continue }
                let value = string(at: offset)
                switch tag {
                case .name: name = value
                case .version: version = value
                case .release: release = value
                case .arch: arch = value
                case .sourceRPM: sourceRPM = value
                case .modularityLabel: modularityLabel = value
                case .vendor: vendor = value
                case .epoch, .dirIndexes, .baseNames, .dirNames: break
                }
            }
        }
    }

    /// `[epoch:]version-release`, the epoch only when non-zero.
    var evr: String? {
        guard let version else { return nil }
        var text = version
        if let release, !release.isEmpty { text += "-" + release }
        if let epoch, epoch != 0 { text = "\(epoch):" + text }
        return text
    }

    /// The source package from `name-version-release.src.rpm`.
    var source: Package.Source? {
        guard var file = sourceRPM, !file.isEmpty, file != "(none)" else { return nil }
        for suffix in [".src.rpm", ".nosrc.rpm"] where file.hasSuffix(suffix) { file.removeLast(suffix.count) }
        let parts = file.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return Package.Source(name: file, version: nil) }
        let name = parts.dropLast(2).joined(separator: "-")
        var version = "\(parts[parts.count - 2])-\(parts[parts.count - 1])"
        if let epoch, epoch != 0 { version = "\(epoch):" + version }
        return Package.Source(name: name, version: version)
    }
}
