import FathomCore
import FathomOCI

/// Plain-text tables for terminals, aligned on display columns.
public struct TextTable {
    public var headers: [String]
    public var rows: [[String]] = []

    public init(headers: [String]) { self.headers = headers }

    public mutating func append(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
        var output = line(headers) + "\n"
        output += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in rows { output += line(row) + "\n" }
        return output
    }
}

extension ScanReport {
    /// The human-readable form: identity, OS, layers.
    public func table() -> String {
        var output = "Image:    \(artifact.name)\n"
        if let digest = artifact.manifestDigest { output += "Manifest: \(digest)\n" }
        output += "Config:   \(artifact.configDigest)\n"
        if let platform = artifact.platform { output += "Platform: \(platform)\n" }
        if let os {
            output += "OS:       \(os.prettyName ?? os.id) (\(os.id) \(os.versionID ?? "?"))\n"
        } else {
            output += "OS:       unknown (no os-release)\n"
        }
        output += "\n"
        var table = TextTable(headers: ["#", "DIGEST", "COMPRESSION", "SIZE", "UNCOMPRESSED", "FILES"])
        for layer in layers {
            table.append([
                "\(layer.index)", "\(layer.digest.algorithm.rawValue):\(layer.digest.short)", layer.compression.rawValue,
                Self.bytes(layer.size), Self.bytes(layer.uncompressedSize), "\(layer.files)",
            ])
        }
        output += table.render()
        if !packages.isEmpty {
            output += "\n"
            var packageTable = TextTable(headers: ["PACKAGE", "VERSION", "ECOSYSTEM", "LAYER"])
            for package in packages {
                packageTable.append([package.name, package.version, package.ecosystem, package.layer.short])
            }
            output += packageTable.render()
        }
        for warning in warnings { output += "warning: \(warning)\n" }
        return output
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}
