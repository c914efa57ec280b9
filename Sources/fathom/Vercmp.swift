import ArgumentParser
import FathomVersion
import Foundation

/// `fathom vercmp --ecosystem deb A B`: prints `<`, `=` or `>`, as `dpkg --compare-versions`
/// serves Debian users writing ignore rules.
struct Vercmp: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two versions under an ecosystem's rules (prints <, = or >).")

    @Option(help: "deb, rpm, apk, pypi, semver (npm, crates), go, maven, gem, composer or nuget.")
    var ecosystem: String

    @Argument var lhs: String
    @Argument var rhs: String

    // Checked here, not in run(): ArgumentParser shows this command's usage with a validation
    // error, and the root command's with one thrown later.
    func validate() throws {
        guard VersionComparators.comparator(for: ecosystem) != nil else {
            throw ValidationError(
                "unknown ecosystem '\(ecosystem)': use \(VersionComparators.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        let comparator = VersionComparators.comparator(for: ecosystem)!  // validate() checked it
        do {
            // A version fathom would not take as installed (a gap in a scan) still compares as
            // the ecosystem's own tool compares it; said, so the answer is not taken as meant.
            let order = try comparator.compare(lhs, rhs)
            for version in [lhs, rhs] {
                do { try comparator.validate(version) } catch { printWarning("\(error); a package installed at this version is not checked") }
            }
            print(order.symbol)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}
