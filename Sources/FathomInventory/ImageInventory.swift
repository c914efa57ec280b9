/// The packages of a merged image, each attributed to the layer that introduced it in its
/// current version.
public struct InventoryEntry: Sendable, Hashable, Codable {
    public var package: Package
    /// Index of the layer where this version of the package first appeared.
    public var layer: Int

    public init(package: Package, layer: Int) {
        self.package = package
        self.layer = layer
    }
}

public enum ImageInventory {
    /// Every package the merged image has, sorted by ecosystem, name, version and path.
    ///
    /// A package is attributed to the earliest layer in the unbroken run of versions of its
    /// database file that all list it at this version: an `apt-get install` in an upper layer
    /// rewrites `status`, but the base image's packages in it still come from the base.
    public static func packages(in filesystem: MergedFilesystem) -> [InventoryEntry] {
        var entries: [InventoryEntry] = []
        for (path, entry) in filesystem.entries {
            guard entry.fact.kind == .file, let packages = entry.fact.packages else { continue }
            let versions = filesystem.history[path] ?? [entry]
            let identitiesByVersion = versions.map { Set(($0.fact.packages ?? []).map(\.identity)) }
            for package in packages {
                var introduced = entry.layer
                var index = versions.count - 2
                while index >= 0, identitiesByVersion[index].contains(package.identity) {
                    introduced = versions[index].layer
                    index -= 1
                }
                entries.append(InventoryEntry(package: package, layer: introduced))
            }
        }
        return entries.sorted {
            ($0.package.ecosystem, $0.package.name, $0.package.version, $0.package.path)
                < ($1.package.ecosystem, $1.package.name, $1.package.version, $1.package.path)
        }
    }
}
