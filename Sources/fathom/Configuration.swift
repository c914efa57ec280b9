import ArgumentParser
import FathomAdvisory
import FathomCore
import Foundation
import Yams

/// A configuration file and `FATHOM_*` variables, as Trivy users keep their settings: a YAML
/// file (`--config FILE`, else `$FATHOM_CONFIG`, else `./fathom.yaml`) whose keys are long
/// option names (`severity: HIGH,CRITICAL`, `list-all-pkgs: true`, `insecure-registry: [a, b]`),
/// and variables named after them (`FATHOM_SEVERITY`, `FATHOM_LIST_ALL_PKGS`). Flags override
/// variables, which override the file. Each applies to the commands that take that option; a
/// key no command takes is a warning, not a silent no-op.
enum CommandLineDefaults {
    struct Options {
        /// Long names that take a value.
        var valued: Set<String> = []
        /// Long names of flags (with `no-` forms where the flag has one).
        var flags: Set<String> = []
        /// Long names that may be given more than once, each adding a value (`--vex`); nil
        /// when the argument parser's description of the command could not be read.
        var repeating: Set<String>? = []

        func takes(_ name: String) -> Bool { valued.contains(name) || flags.contains(name) }
    }

    /// The arguments with the file's and the environment's settings put before the user's, and
    /// where each option so added came from (its variable or file), for errors to name it.
    static func expand(
        _ arguments: [String], environment: [String: String], warn: (String) -> Void
    ) throws -> (arguments: [String], origins: [String: String]) {
        var arguments = arguments
        // The command: the leading words that name subcommands.
        var command: any ParsableCommand.Type = Fathom.self
        var path: [String] = []
        while let word = arguments.dropFirst(path.count).first,
            let next = command.configuration.subcommands.first(where: { $0._commandName == word })
        {
            command = next
            path.append(word)
        }
        guard !path.isEmpty, command.configuration.subcommands.isEmpty else { return (arguments, [:]) }
        var fileArgument: String?
        if let index = arguments.firstIndex(of: "--config"), index + 1 < arguments.count {
            fileArgument = arguments[index + 1]
            arguments.removeSubrange(index...index + 1)
        }
        let options = Self.options(of: command)
        let short = ["-f": "format", "-o": "output"]
        let given = Set(arguments.dropFirst(path.count).compactMap { argument -> String? in
            if let name = short[argument] { return name }
            guard argument.hasPrefix("--") else { return nil }
            let name = String(argument.dropFirst(2).prefix { $0 != "=" })
            return name.hasPrefix("no-") ? String(name.dropFirst(3)) : name
        })
        var settings: [(name: String, value: Any, origin: String)] = []
        // The environment: FATHOM_<OPTION>.
        var fromEnvironment = Set<String>()
        var variables: [String: String] = [:]
        for name in options.valued.union(options.flags) where !name.hasPrefix("no-") {
            let variable = Self.variable(name)
            variables[variable] = name
            if let value = environment[variable], !value.isEmpty {
                settings.append((name, value, variable))
                fromEnvironment.insert(name)
            }
        }
        // A misspelled variable (FATHOM_SEVRITY) is warned about, as a misspelled key of the file
        // is: it would leave its option unset. Only one a letter or two from this command's
        // options, so the tools' and benchmarks' own FATHOM_* variables pass unremarked.
        let unknown = environment.keys.sorted().filter { $0.hasPrefix("FATHOM_") && variables[$0] == nil }
        let every = unknown.isEmpty ? Options() : Self.allOptions()
        let known = Set(every.valued.union(every.flags).map(Self.variable))
        for variable in unknown where !known.contains(variable) {
            if let near = variables.keys.sorted().min(by: { editDistance(variable, $0) < editDistance(variable, $1) }), editDistance(variable, near) <= 2 {
                warn("\(variable) is not a setting of fathom \(path.joined(separator: " ")) (ignored); did you mean \(near)?")
            }
        }
        // The file.
        let configPath = fileArgument ?? environment["FATHOM_CONFIG"] ?? (FileManager.default.fileExists(atPath: "fathom.yaml") ? "fathom.yaml" : nil)
        if let file = configPath {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("cannot read the configuration file \(file)")
            }
            let loaded: Any?
            do {
                loaded = try BoundedYAML.compose(text)?.any
            } catch {
                throw ValidationError("the configuration file \(file) is not YAML: \(error)")
            }
            guard let keys = loaded as? [String: Any] else {
                if loaded == nil { return (arguments, [:]) }
                throw ValidationError("the configuration file \(file) must be a mapping of option names to values")
            }
            let everyOption = Self.allOptions()
            for (key, value) in keys.sorted(by: { $0.key < $1.key }) {
                guard options.takes(key) else {
                    if !everyOption.takes(key) {
                        // `exit_code` for `exit-code`, or a letter or two off: name the option meant.
                        let names = options.valued.union(options.flags).sorted()
                        let spelled = key.replacingOccurrences(of: "_", with: "-").lowercased()
                        let near = names.min { editDistance(spelled, $0) < editDistance(spelled, $1) }.flatMap { editDistance(spelled, $0) <= 2 ? $0 : nil }
                        warn("\(file): '\(key)' is not an option of any fathom command (ignored)" + (near.map { "; did you mean \($0)?" } ?? ""))
                    }
                    continue
                }
                if !fromEnvironment.contains(key) { settings.append((key, value, file)) }
            }
        }
        var extra: [String] = []
        var origins: [String: String] = [:]
        for (name, value, origin) in settings where !given.contains(name) {
            origins[name] = origin
            if options.flags.contains(name) && !options.valued.contains(name) {
                let text = "\(value)".lowercased()
                switch text {
                case "true", "1", "yes", "on": extra.append("--\(name)")
                case "false", "0", "no", "off": if options.flags.contains("no-\(name)") { extra.append("--no-\(name)") }
                default: throw ValidationError("\(origin): \(name) is a flag: true or false, not '\(value)'")
                }
            } else if let list = value as? [Any] {
                // A list is the option repeated where it repeats; for one that takes a single
                // value, one comma-separated value (`severity: [HIGH, CRITICAL]` is
                // `--severity HIGH,CRITICAL`, where repeating it kept only the last, silently).
                guard let repeating = options.repeating else {
                    throw ValidationError("\(origin): \(name) is a list, and fathom cannot tell whether \(name) repeats here: give one comma-separated value")
                }
                if repeating.contains(name) {
                    for item in list { extra += ["--\(name)", "\(item)"] }
                } else {
                    extra += ["--\(name)", list.map { "\($0)" }.joined(separator: ",")]
                }
            } else {
                extra += ["--\(name)", "\(value)"]
            }
        }
        return (Array(arguments.prefix(path.count)) + extra + arguments.dropFirst(path.count), origins)
    }

    /// The variable that sets an option: FATHOM_ and its name in capitals, `-` as `_`.
    static func variable(_ option: String) -> String { "FATHOM_" + option.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// A command's long options, read from its help (the one place that lists them all).
    static func options(of command: any ParsableCommand.Type) -> Options {
        var options = Options()
        let help = command.helpMessage(includeHidden: true, columns: 10_000)
        let pattern = /--([a-z0-9][a-z0-9-]*)( <)?/
        for match in help.matches(of: pattern) {
            let name = String(match.output.1)
            if match.output.2 != nil { options.valued.insert(name) } else { options.flags.insert(name) }
        }
        options.flags.subtract(["help", "version"])
        // Which repeat, from the parser's own description of the command (its help text does
        // not say).
        struct Description: Decodable {
            struct Command: Decodable { var arguments: [Argument]? }
            struct Argument: Decodable {
                struct Name: Decodable { var kind: String; var name: String }
                var isRepeating: Bool?
                var names: [Name]?
            }
            var command: Command
        }
        // Unreadable (a release of the parser that describes itself otherwise), no list is
        // taken rather than every one joined by commas.
        if let description = try? JSONDecoder().decode(Description.self, from: Data(command._dumpHelp().utf8)) {
            for argument in description.command.arguments ?? [] where argument.isRepeating == true {
                for name in argument.names ?? [] where name.kind == "long" { options.repeating?.insert(name.name) }
            }
        } else {
            options.repeating = nil
        }
        return options
    }

    static func allOptions() -> Options {
        var all = Options()
        var pending: [any ParsableCommand.Type] = [Fathom.self]
        while let command = pending.popLast() {
            pending += command.configuration.subcommands
            let options = Self.options(of: command)
            all.valued.formUnion(options.valued)
            all.flags.formUnion(options.flags)
        }
        return all
    }
}
