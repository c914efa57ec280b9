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
        // A language package an OS package installed (Debian's python3-urllib3, its egg-info in
        // dpkg's file list) is the OS package's: its distribution's advisories and fixes cover it
        // (a backported fix keeps the upstream version), so it is not matched again as a
        // language package. Trivy leaves the same files out.
        // A vendor's package (not Debian's or Ubuntu's maintainers) is no such package: its
        // files stay its ecosystems' (elasticsearch's log4j jar).
        let foreign = Set(filesystem.entries.values.flatMap { $0.fact.foreignPackages ?? [] })
        var owned = Set<String>()
        for (path, entry) in filesystem.entries where entry.fact.kind == .file {
            guard let files = entry.fact.ownedFiles else { continue }
            if path.hasPrefix(DpkgFileListAnalyzer.directory) {
                // `var/lib/dpkg/info/NAME[:ARCH].list` names its package.
                let name = path.dropFirst(DpkgFileListAnalyzer.directory.count).dropLast(".list".count).split(separator: ":").first.map(String.init) ?? ""
                if foreign.contains(name) { continue }
            }
            owned.formUnion(files)
        }
        if !owned.isEmpty {
            entries.removeAll { entry in
                // A library inside an archive is the archive's (`x.jar!/lib/y.jar`).
                !entry.package.isOSPackage && owned.contains(String(entry.package.path.split(separator: "!/", maxSplits: 1).first ?? ""))
            }
        }
        // A Composer project holds what it wanted (`composer.lock`) and what it installed
        // (`vendor/composer/installed.json`): where both are, the installed list is the truth,
        // and the lock's packages would count every finding twice.
        let installed = Set(filesystem.entries.keys.filter { $0.hasSuffix("vendor/composer/installed.json") })
        if !installed.isEmpty {
            entries.removeAll { entry in
                guard entry.package.ecosystem == "composer", entry.package.path.hasSuffix("composer.lock") else { return false }
                let project = String(entry.package.path.dropLast("composer.lock".count))
                return installed.contains(project + "vendor/composer/installed.json")
            }
        }
        // An npm project likewise: where its node_modules holds installed packages, those are
        // what it runs, and its package-lock.json would count each of them again.
        let npmProjects = Set(entries.compactMap { entry -> String? in
            guard entry.package.ecosystem == "npm", let range = entry.package.path.firstRange(of: "node_modules/") else { return nil }
            return String(entry.package.path[..<range.lowerBound])
        })
        if !npmProjects.isEmpty {
            entries.removeAll { entry in
                guard entry.package.ecosystem == "npm", entry.package.path.hasSuffix("package-lock.json") else { return false }
                return npmProjects.contains(String(entry.package.path.dropLast("package-lock.json".count)))
            }
        }
        return entries.sorted {
            ($0.package.ecosystem, $0.package.name, $0.package.version, $0.package.path)
                < ($1.package.ecosystem, $1.package.name, $1.package.version, $1.package.path)
        }
    }
}
