import ArgumentParser
import FathomCore
import Foundation

/// `fathom`: thin command-line front end; all logic lives in the libraries.
@main
struct Fathom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fathom",
        abstract: "Scan container images for vulnerable packages.",
        discussion: """
            Exit codes: 0 when the command did what was asked; the value of --exit-code when findings survive the policy; 1 on an error (named on standard error); 64 on a usage error.

            Settings: a YAML file of long option names (--config FILE, else $FATHOM_CONFIG, else ./fathom.yaml) and FATHOM_<OPTION> variables; flags override variables, which override the file.

            Shell completions: fathom --generate-completion-script bash|zsh|fish.
            """,
        version: FathomVersionInfo.version,
        subcommands: [
            Scan.self, RegistryScan.self, Rescan.self, Serve.self, Worker.self, Events.self, Database.self, Vercmp.self,
            VersionCommand.self,
        ])

    /// `fathom --version` says how old the advisory data is, as `fathom version` does.
    static func main() async {
        if Array(CommandLine.arguments.dropFirst()) == ["--version"] {
            do {
                print(try await VersionCommand.text(store: nil))
            } catch {
                FileHandle.standardError.write(Data("fathom: error: \(error)\n".utf8))
                Self.exit(withError: ExitCode(1))
            }
            return
        }
        let expanded: [String]
        let origins: [String: String]
        do {
            (expanded, origins) = try CommandLineDefaults.expand(
                Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
                warn: printWarning)
        } catch {
            Self.exit(withError: error)
        }
        // A mistyped command would be reported as its first option being unknown (`fathom scna
        // --store x` said "Unknown option '--store'"): name the command instead.
        if let first = expanded.first, !first.hasPrefix("-") {
            let names = configuration.subcommands.map { $0._commandName } + ["help"]
            if !names.contains(first) {
                let closest = names.min { editDistance(first, $0) < editDistance(first, $1) }
                let hint = closest.flatMap { editDistance(first, $0) <= 2 ? " Did you mean '\($0)'?" : nil } ?? ""
                FileHandle.standardError.write(
                    Data("Error: Unknown command '\(first)'.\(hint)\nUsage: fathom <subcommand>\n  See 'fathom --help' for more information.\n".utf8))
                Self.exit(withError: ExitCode.validationFailure)
            }
        }
        // ArgumentParser's own main, but for errors a library describes poorly (FathomError.presentable).
        do {
            var command = try parseAsRoot(expanded)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            // An option set by a variable or the configuration file is named by where it was set:
            // the user typed no `--exit-code` when FATHOM_EXIT_CODE was wrong.
            let error = FathomError.presentable(error)
            let message = fullMessage(for: error)
            var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if exitCode(for: error) != .success, let first = lines.first,
                let (name, origin) = origins.sorted(by: { $0.key < $1.key }).first(where: { Self.names(first, option: "--" + $0.key) })
            {
                lines[0] += " (--\(name) was set by \(origin))"
                FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                Self.exit(withError: ExitCode(exitCode(for: error).rawValue))
            }
            Self.exit(withError: error)
        }
    }
}

extension Fathom {
    /// Whether `text` names `option` (followed by no more of an option's name: `--severity`, not `--severity-x`).
    static func names(_ text: String, option: String) -> Bool {
        var rest = text[...]
        while let found = rest.range(of: option) {
            let next = rest[found.upperBound...].first
            if next.map({ !($0.isLetter || $0.isNumber || $0 == "-") }) ?? true { return true }
            rest = rest[found.upperBound...]
        }
        return false
    }
}
