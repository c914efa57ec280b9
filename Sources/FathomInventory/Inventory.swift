import FathomCore

/// An image's merged package list and OS namespace, named by its content: images with the same
/// key have the same findings against the same advisories, however their layers differ (a top
/// layer that only adds configuration keeps its base's key; one that removes or upgrades a
/// package does not). Rescans match each distinct inventory once.
public struct Inventory: Sendable, Hashable {
    public let osNamespace: String?
    public let entries: [InventoryEntry]
    /// The SHA-256 of `encoded`, hex.
    public let key: String
    /// One line for the namespace, then one tab-separated line per entry.
    public let encoded: [UInt8]

    public init(osNamespace: String?, entries: [InventoryEntry]) {
        self.osNamespace = osNamespace
        self.entries = entries
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + entries.count * 128)
        Self.append([osNamespace ?? ""], to: &bytes)
        for entry in entries {
            let package = entry.package
            Self.append(
                [
                    package.ecosystem, package.name, package.version, package.arch ?? "", package.source?.name ?? "",
                    package.source?.version ?? "", package.path, package.modularityLabel ?? "", String(entry.layer),
                ], to: &bytes)
        }
        encoded = bytes
        key = Digest.sha256(of: bytes).encoded
    }

    private static func append(_ fields: [String], to bytes: inout [UInt8]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(0x09) }
            // A tab or newline inside a field (none is expected) becomes a space.
            for byte in field.utf8 { bytes.append(byte == 0x09 || byte == 0x0A ? 0x20 : byte) }
        }
        bytes.append(0x0A)
    }

    /// Reads `encoded` back; nil when the bytes are not an inventory.
    public static func decode(_ bytes: [UInt8]) -> Inventory? {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard lines.last?.isEmpty == true else { return nil }
        lines.removeLast()
        guard let first = lines.first else { return nil }
        let namespace = String(decoding: first, as: UTF8.self)
        var entries: [InventoryEntry] = []
        entries.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            let fields = line.split(separator: 0x09, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 9, let layer = Int(fields[8]) else { return nil }
            let source = fields[4].isEmpty ? nil : Package.Source(name: fields[4], version: fields[5].isEmpty ? nil : fields[5])
            entries.append(
                InventoryEntry(
                    package: Package(
                        ecosystem: fields[0], name: fields[1], version: fields[2], arch: fields[3].isEmpty ? nil : fields[3],
                        source: source, path: fields[6], modularityLabel: fields[7].isEmpty ? nil : fields[7]),
                    layer: layer))
        }
        let inventory = Inventory(osNamespace: namespace.isEmpty ? nil : namespace, entries: entries)
        return inventory.encoded == bytes ? inventory : nil
    }
}
