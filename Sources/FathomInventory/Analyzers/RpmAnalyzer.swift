// rpmdb backends: SQLite (rpm ≥ 4.16, `rpmdb.sqlite`), BerkeleyDB hash (`Packages`, older
// RHEL/CentOS/Amazon), and ndb (`Packages.db`, SUSE). Each yields header blobs.
import FathomSQLite
import FathomCore

/// rpm package databases in any of rpm's three formats.
public struct RpmAnalyzer: Analyzer {
    public let name = "rpm"
    public let byteLimit = 512 << 20
    public init() {}

    static let directories = ["var/lib/rpm/", "usr/lib/sysimage/rpm/"]

    public func claims(_ path: String) -> Bool {
        for directory in Self.directories where path.hasPrefix(directory) {
            let file = path.dropFirst(directory.count)
            return file == "rpmdb.sqlite" || file == "Packages" || file == "Packages.db"
        }
        return false
    }

    /// Whether an rpm's vendor is a distribution's (Red Hat, its rebuilds, Amazon, SUSE,
    /// Microsoft's Azure Linux, Fedora, Oracle), as its package headers name it.
    static func isDistributions(vendor: String?) -> Bool {
        guard let vendor = vendor?.lowercased() else { return false }
        return ["red hat", "centos", "rocky enterprise software foundation", "almalinux", "cloudlinux", "amazon", "suse", "opensuse",
                "microsoft corporation", "fedora project", "oracle america"].contains { vendor.hasPrefix($0) }
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var result = AnalyzerResult()
        let blobs: [ArraySlice<UInt8>]
        do {
            if path.hasSuffix("rpmdb.sqlite") {
                blobs = try SQLiteRpmdb.blobs(contents)
            } else if path.hasSuffix("Packages.db") {
                blobs = try NdbRpmdb.blobs(contents, warnings: &result.warnings, path: path)
            } else {
                blobs = try BerkeleyRpmdb.blobs(contents, warnings: &result.warnings, path: path)
            }
        } catch {
            result.warnings.append("\(path): \(error)")
            return result
        }
        for (index, blob) in blobs.enumerated() {
            do {
                let header = try RpmHeader(blob: blob)
                guard let name = header.name, let evr = header.evr else {
                    result.warnings.append("\(path): header \(index + 1) has no name or version; skipped")
                    continue
                }
                result.packages.append(
                    Package(
                        ecosystem: "rpm", name: name, version: evr, arch: header.arch, source: header.source, path: path,
                        modularityLabel: header.modularityLabel.flatMap { $0.isEmpty ? nil : $0 }))
                // The language files the distribution's package installed (RHEL's python3-urllib3
                // egg-info) are its; a vendor's package (not the distribution's) keeps them its
                // ecosystems', as for dpkg.
                if Self.isDistributions(vendor: header.vendor) {
                    for file in header.files {
                        let relative = String(file.drop { $0 == "/" })
                        if Analyzers.ownedFileOfInterest(relative) { result.ownedFiles.append(relative) }
                    }
                }
            } catch {
                result.warnings.append("\(path): header \(index + 1): \(error)")
            }
        }
        return result
    }
}

struct RpmdbError: Error, CustomStringConvertible {
    var description: String
}

/// `rpmdb.sqlite`: the `Packages` table's `blob` column, read from memory with
/// `sqlite3_deserialize` (nothing is written to disk).
enum SQLiteRpmdb {
    static func blobs(_ contents: [UInt8]) throws -> [ArraySlice<UInt8>] {
        let database = try SQLiteConnection.deserialized(contents, name: "rpmdb.sqlite")
        var blobs: [ArraySlice<UInt8>] = []
        try database.query("SELECT blob FROM Packages ORDER BY hnum") { row in
            let blob = row.blob(0)
            if !blob.isEmpty { blobs.append(blob[...]) }
        }
        return blobs
    }
}

/// BerkeleyDB hash `Packages` (db_page.h layout): header values live on overflow page chains
/// referenced from hash pages' H_OFFPAGE items.
enum BerkeleyRpmdb {
    static let hashMagic: UInt32 = 0x061561
    static let pageHeaderSize = 26

    static func blobs(_ db: [UInt8], warnings: inout [String], path: String) throws -> [ArraySlice<UInt8>] {
        let bigEndian: Bool
        if db.u32(12, bigEndian: false) == hashMagic {
            bigEndian = false
        } else if db.u32(12, bigEndian: true) == hashMagic {
            bigEndian = true
        } else {
            throw RpmdbError(description: "not a BerkeleyDB hash database")
        }
        guard let pageSize = db.u32(20, bigEndian: bigEndian).map(Int.init), [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536].contains(pageSize),
            let lastPage = db.u32(32, bigEndian: bigEndian).map(Int.init)
        else { throw RpmdbError(description: "BerkeleyDB metadata page is malformed") }
        let pages = min(lastPage + 1, db.count / pageSize)
        var blobs: [ArraySlice<UInt8>] = []
        for page in 0..<pages {
            let start = page * pageSize
            let type = db[start + 25]
            guard type == 13 || type == 2 else { continue }  // P_HASH, P_HASH_UNSORTED
            guard let entries = db.u16(start + 20, bigEndian: bigEndian).map(Int.init) else { continue }
            // Items come in key/value pairs; only values on overflow pages hold headers.
            for item in stride(from: 1, to: entries, by: 2) {
                guard let offset = db.u16(start + pageHeaderSize + item * 2, bigEndian: bigEndian).map(Int.init),
                    offset + 12 <= pageSize
                else { continue }
                let itemStart = start + offset
                guard db[itemStart] == 3 else { continue }  // H_OFFPAGE
                guard let firstPage = db.u32(itemStart + 4, bigEndian: bigEndian), let total = db.u32(itemStart + 8, bigEndian: bigEndian)
                else { continue }
                var value: [UInt8] = []
                // The stated total is the file's word, not a size to trust: a chain can hold no more than the file.
                value.reserveCapacity(min(Int(total), db.count))
                var current = Int(firstPage)
                var visited = Set<Int>()
                while current != 0 {
                    guard current < pages, visited.insert(current).inserted else {
                        warnings.append("\(path): overflow chain points outside the file or loops (page \(current)); header skipped")
                        value = []
                        break
                    }
                    let pageStart = current * pageSize
                    guard db[pageStart + 25] == 7, let next = db.u32(pageStart + 16, bigEndian: bigEndian),
                        let used = db.u16(pageStart + 22, bigEndian: bigEndian).map(Int.init)
                    else {
                        warnings.append("\(path): page \(current) is not an overflow page; header skipped")
                        value = []
                        break
                    }
                    let length = next == 0 ? min(used, pageSize - pageHeaderSize) : pageSize - pageHeaderSize
                    value += db[(pageStart + pageHeaderSize)..<(pageStart + pageHeaderSize + length)]
                    current = Int(next)
                }
                if !value.isEmpty { blobs.append(value.prefix(Int(total))) }
            }
        }
        return blobs
    }
}

/// ndb `Packages.db` (rpm's lib/backend/ndb/rpmpkg.c): a 32-byte header, slot pages of
/// 16-byte slots, and blobs (16-byte header + header blob) at `blockOffset * 16`.
enum NdbRpmdb {
    static func blobs(_ db: [UInt8], warnings: inout [String], path: String) throws -> [ArraySlice<UInt8>] {
        let magic = UInt32(ascii4: "RpmP")
        guard db.u32(0, bigEndian: false) == magic, db.u32(4, bigEndian: false) == 0,
            let slotPages = db.u32(12, bigEndian: false).map(Int.init), slotPages > 0, slotPages <= 2048
        else { throw RpmdbError(description: "not an rpm ndb database") }
        var blobs: [ArraySlice<UInt8>] = []
        let slots = slotPages * 4096 / 16
        // The first two slots are the database header.
        for slot in 2..<slots {
            let offset = slot * 16
            guard let slotMagic = db.u32(offset, bigEndian: false), slotMagic == UInt32(ascii4: "Slot") else {
                warnings.append("\(path): slot \(slot) has a bad magic; stopped")
                break
            }
            guard let package = db.u32(offset + 4, bigEndian: false), package != 0,
                let block = db.u32(offset + 8, bigEndian: false).map(Int.init)
            else { continue }
            let blobStart = block * 16
            guard db.u32(blobStart, bigEndian: false) == UInt32(ascii4: "BlbS"), db.u32(blobStart + 4, bigEndian: false) == package,
                let length = db.u32(blobStart + 12, bigEndian: false).map(Int.init), blobStart + 16 + length <= db.count
            else {
                warnings.append("\(path): package \(package)'s blob is missing or points outside the file; skipped")
                continue
            }
            blobs.append(db[(blobStart + 16)..<(blobStart + 16 + length)])
        }
        return blobs
    }
}

extension UInt32 {
    /// Four ASCII characters read as a little-endian integer ("RpmP" → 'R' | 'p' << 8 …).
    init(ascii4 text: String) {
        let bytes = Array(text.utf8)
        self = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }
}
