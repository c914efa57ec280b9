// Lock files and gem specifications that record exactly which versions an application ships:
// Cargo.lock (https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html),
// composer.lock (https://getcomposer.org/doc/01-basic-usage.md#commit-your-composer-lock-file-to-version-control),
// and installed RubyGems specifications (`specifications/NAME-VERSION.gemspec`).
import Foundation

/// `Cargo.lock`: `[[package]]` tables with `name` and `version`.
public struct CargoLockAnalyzer: Analyzer {
    public let name = "cargo-lock"
    public let byteLimit = 16 << 20
    public init() {}

    public func claims(_ path: String) -> Bool { path == "Cargo.lock" || path.hasSuffix("/Cargo.lock") }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var packages: [Package] = []
        var inPackage = false
        var name: String?
        var version: String?
        var source: String?
        func flush() {
            // Path dependencies (no source) are the application's own crates.
            if inPackage, let name, let version, source != nil {
                packages.append(Package(ecosystem: "crates", name: name, version: version, path: path))
            }
            name = nil
            version = nil
            source = nil
        }
        for rawLine in String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: [" ", "\t", "\r"])
            if line.hasPrefix("[") {
                flush()
                inPackage = line == "[[package]]"
                continue
            }
            guard inPackage, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 else { continue }
            let text = String(value.dropFirst().dropLast())
            switch key {
            case "name": name = text
            case "version": version = text
            case "source": source = text
            default: break
            }
        }
        flush()
        return AnalyzerResult(packages: packages)
    }
}

/// `composer.lock`: `packages` and `packages-dev` arrays of `{name, version}`.
public struct ComposerLockAnalyzer: Analyzer {
    public let name = "composer-lock"
    public let byteLimit = 32 << 20
    public init() {}

    public func claims(_ path: String) -> Bool { path == "composer.lock" || path.hasSuffix("/composer.lock") }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(contents))) as? [String: Any] else {
            return AnalyzerResult(warnings: ["\(path): not a composer.lock JSON object"])
        }
        return AnalyzerResult(packages: ["packages", "packages-dev"].flatMap { Self.packages(object[$0], path: path) })
    }

    /// `{name, version}` entries as Composer packages (a leading `v` of a tag dropped).
    static func packages(_ list: Any?, path: String) -> [Package] {
        (list as? [[String: Any]] ?? []).compactMap { entry in
            guard let name = entry["name"] as? String, var version = entry["version"] as? String else { return nil }
            if version.hasPrefix("v") { version.removeFirst() }
            return Package(ecosystem: "composer", name: name, version: version, path: path)
        }
    }
}

/// `vendor/composer/installed.json`: what Composer installed, the database an image holds when
/// its lock file was not copied in. Composer 2 writes `{"packages": [...]}`, Composer 1 an array.
public struct ComposerInstalledAnalyzer: Analyzer {
    public let name = "composer-installed"
    public let byteLimit = 32 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        path == "vendor/composer/installed.json" || path.hasSuffix("/vendor/composer/installed.json")
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        switch try? JSONSerialization.jsonObject(with: Data(contents)) {
        case let object as [String: Any] where object["packages"] is [Any]:
            return AnalyzerResult(packages: ComposerLockAnalyzer.packages(object["packages"], path: path))
        case let list as [Any]:
            return AnalyzerResult(packages: ComposerLockAnalyzer.packages(list, path: path))
        default:
            return AnalyzerResult(warnings: ["\(path): not Composer's installed.json (no package list)"])
        }
    }
}

/// Installed gems: `…/specifications/NAME-VERSION.gemspec`, read for `s.name` / `s.version`
/// (the file is Ruby written by RubyGems in a fixed shape; it is parsed, never run).
public struct GemspecAnalyzer: Analyzer {
    public let name = "gemspec"
    public let byteLimit = 1 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        path.hasSuffix(".gemspec") && path.contains("/specifications/")
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        var name: String?
        var version: String?
        for rawLine in String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            // s.name = "rack".freeze   |   s.version = "2.2.3"
            for (key, assign) in [("name", { name = $0 }), ("version", { version = $0 })] as [(String, (String) -> Void)] {
                guard line.range(of: #"^[a-z_]+\.\#(key)\s*="#, options: .regularExpression) != nil,
                    let open = line.firstIndex(where: { $0 == "\"" || $0 == "'" })
                else { continue }
                let quote = line[open]
                let rest = line[line.index(after: open)...]
                guard let close = rest.firstIndex(of: quote) else { continue }
                assign(String(rest[..<close]))
            }
            if name != nil && version != nil { break }
        }
        guard let name, let version else {
            return AnalyzerResult(warnings: ["\(path): no name and version in the gem specification"])
        }
        return AnalyzerResult(packages: [Package(ecosystem: "gem", name: name, version: version, path: path)])
    }
}

/// A published .NET application's `*.deps.json`
/// (https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md):
/// its `libraries` map `"Name/Version"` to a `type`; `package` entries are the NuGet packages
/// the app was built with. `project` (the app itself and its own projects) and `reference`
/// entries are not packages anyone publishes advisories for.
///
/// As Trivy does, a package whose entry in the runtime target lists no `runtime`,
/// `runtimeTargets` or `native` assets is left out: the app ships none of its code (a
/// meta-package, or an assembly the shared framework provides instead). Syft, and so Grype,
/// keep them; fathom follows Trivy because a finding in code the image does not hold is noise.
public struct DotnetDepsAnalyzer: Analyzer {
    public let name = "dotnet-deps"
    public let byteLimit = 32 << 20
    public init() {}

    public func claims(_ path: String) -> Bool { path.hasSuffix(".deps.json") }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(contents))) as? [String: Any],
            let libraries = object["libraries"] as? [String: Any]
        else {
            return AnalyzerResult(warnings: ["\(path): not a .NET deps.json (no \"libraries\" object)"])
        }
        let targetName = (object["runtimeTarget"] as? [String: Any])?["name"] as? String
        let target = targetName.flatMap { (object["targets"] as? [String: Any])?[$0] as? [String: Any] }
        var packages: [Package] = []
        var malformed: [String] = []
        for (key, value) in libraries.sorted(by: { $0.key < $1.key }) {
            guard (value as? [String: Any])?["type"] as? String == "package" else { continue }
            if let entry = target?[key] as? [String: Any],
                !["runtime", "runtimeTargets", "native"].contains(where: { !((entry[$0] as? [String: Any])?.isEmpty ?? true) })
            {
                continue
            }
            guard let slash = key.lastIndex(of: "/"), slash != key.startIndex, key.index(after: slash) != key.endIndex else {
                malformed.append(key)
                continue
            }
            packages.append(
                Package(ecosystem: "nuget", name: String(key[..<slash]), version: String(key[key.index(after: slash)...]), path: path))
        }
        let warnings = malformed.isEmpty ? [] : ["\(path): \(malformed.count) libraries are not named NAME/VERSION (first: '\(malformed[0])')"]
        return AnalyzerResult(packages: packages, warnings: warnings)
    }
}
