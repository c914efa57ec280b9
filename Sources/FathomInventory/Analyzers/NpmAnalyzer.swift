// npm: installed packages' `package.json` under `node_modules/`, and `package-lock.json`
// (lockfileVersion 1 `dependencies`, 2 and 3 `packages`).
import Foundation

/// Installed Node.js packages.
public struct NpmAnalyzer: Analyzer {
    public let name = "npm"
    public let byteLimit = 32 << 20
    public init() {}

    public func claims(_ path: String) -> Bool {
        if path.hasSuffix("package-lock.json") { return !path.contains("node_modules/") }
        guard path.hasSuffix("/package.json"), let range = path.range(of: "node_modules/", options: .backwards) else {
            return false
        }
        // node_modules/<name>/package.json or node_modules/@scope/<name>/package.json only.
        let inside = path[range.upperBound...].split(separator: "/")
        return inside.count == 2 || (inside.count == 3 && inside[0].hasPrefix("@"))
    }

    public func analyze(path: String, contents: [UInt8]) -> AnalyzerResult {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(contents))
        } catch {
            return AnalyzerResult(warnings: ["\(path): not valid JSON (\(error.localizedDescription))"])
        }
        guard let object = json as? [String: Any] else {
            return AnalyzerResult(warnings: ["\(path): not a JSON object"])
        }
        return path.hasSuffix("package-lock.json") ? lockfile(object, path: path) : manifest(object, path: path)
    }

    func manifest(_ object: [String: Any], path: String) -> AnalyzerResult {
        guard let name = object["name"] as? String, !name.isEmpty, let version = object["version"] as? String, !version.isEmpty
        else { return AnalyzerResult() }
        // Editor extensions and Unity packages use package.json for something else.
        if let engines = object["engines"] as? [String: Any], engines["vscode"] != nil { return AnalyzerResult() }
        if object["contributes"] is [String: Any] { return AnalyzerResult() }
        if object["unity"] != nil { return AnalyzerResult() }
        return AnalyzerResult(packages: [Package(ecosystem: "npm", name: name, version: version, path: path)])
    }

    func lockfile(_ object: [String: Any], path: String) -> AnalyzerResult {
        var packages: [Package] = []
        if let entries = object["packages"] as? [String: Any] {
            for (key, value) in entries where !key.isEmpty {
                guard let entry = value as? [String: Any], entry["link"] as? Bool != true,
                    let range = key.range(of: "node_modules/", options: .backwards), let version = entry["version"] as? String
                else { continue }
                let name = (entry["name"] as? String) ?? String(key[range.upperBound...])
                packages.append(Package(ecosystem: "npm", name: name, version: version, path: path))
            }
        } else if let dependencies = object["dependencies"] as? [String: Any] {
            func walk(_ dependencies: [String: Any], depth: Int) {
                guard depth < 64 else { return }
                for (name, value) in dependencies {
                    guard let entry = value as? [String: Any] else { continue }
                    if let version = entry["version"] as? String, !version.hasPrefix("file:") {
                        // An alias (`"alias-lodash": {"version": "npm:lodash@4.17.4"}`) installs the package it names.
                        if version.hasPrefix("npm:"), let at = version.lastIndex(of: "@"), at > version.index(version.startIndex, offsetBy: 5) {
                            let real = String(version[version.index(version.startIndex, offsetBy: 4)..<at])
                            packages.append(Package(ecosystem: "npm", name: real, version: String(version[version.index(after: at)...]), path: path))
                        } else {
                            packages.append(Package(ecosystem: "npm", name: name, version: version, path: path))
                        }
                    }
                    if let nested = entry["dependencies"] as? [String: Any] { walk(nested, depth: depth + 1) }
                }
            }
            walk(dependencies, depth: 0)
        }
        return AnalyzerResult(packages: Array(Set(packages)).sorted { ($0.name, $0.version) < ($1.name, $1.version) })
    }
}
