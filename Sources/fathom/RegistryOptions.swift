import ArgumentParser
import FathomCore
import FathomRegistry
import Foundation

/// Options for talking to registries, shared by every command that does.
struct RegistryOptions: ParsableArguments {
    @Option(help: "Username for the registry being scanned (else the docker config.json / FATHOM_USERNAME).")
    var username: String?

    @Flag(help: "Read the registry password from standard input.")
    var passwordStdin = false

    @Option(help: ArgumentHelp("Allow plain HTTP, or TLS without certificate checks, to this registry host only (repeatable).", valueName: "host[:port]"))
    var insecureRegistry: [String] = []

    @Option(help: "PEM file of extra CA certificates to trust for registries.")
    var caFile: String?

    @Option(help: "Connections per registry at most.")
    var registryConnections = 8

    func validate() throws {
        // 0 would leave every request waiting for a connection that never comes.
        if registryConnections < 1 { throw ValidationError("--registry-connections must be at least 1") }
        // A user without a password would be dropped silently, and the pull go anonymous.
        if username != nil && !passwordStdin && ProcessInfo.processInfo.environment["FATHOM_PASSWORD"] == nil {
            throw ValidationError("--username needs a password: give --password-stdin, or set FATHOM_PASSWORD")
        }
    }

    /// The client for `registry` (the host the user named), with explicit credentials bound to it.
    /// `plainHTTP`: hosts named as `http://…`, which `insecureRegistry` holds for that reason.
    func makeClient(for registry: String?, plainHTTP: Set<String> = []) throws -> RegistryClient {
        var explicit: [String: RegistryCredential] = [:]
        let environment = ProcessInfo.processInfo.environment
        var password: String?
        if passwordStdin {
            password = readLine(strippingNewline: true)
        } else if let fromEnvironment = environment["FATHOM_PASSWORD"] {
            password = fromEnvironment
        }
        let user = username ?? environment["FATHOM_USERNAME"]
        if let registry, let user, let password {
            explicit[registry] = RegistryCredential(username: user, password: password)
        } else if user != nil && password == nil {
            throw ValidationError("--username needs a password: pass --password-stdin or set FATHOM_PASSWORD")
        }
        for host in Set(insecureRegistry).sorted() {
            printWarning(
                plainHTTP.contains(host)
                    ? "\(host): plain HTTP (http://): the connection is neither encrypted nor authenticated"
                    : "\(host): TLS certificates are not checked (--insecure-registry)")
        }
        return try RegistryClient(
            configuration: RegistryClientConfiguration(
                credentials: CredentialStore(explicit: explicit), insecureRegistries: Set(insecureRegistry), caFile: caFile,
                connectionsPerRegistry: registryConnections))
    }
}
