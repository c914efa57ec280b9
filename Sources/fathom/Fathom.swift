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
        do {
            expanded = try CommandLineDefaults.expand(
                Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment,
                warn: { FileHandle.standardError.write(Data("fathom: warning: \($0)\n".utf8)) })
        } catch {
            Self.exit(withError: error)
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
            Self.exit(withError: FathomError.presentable(error))
        }
    }
}
