import Foundation

/// A real static file server (nginx from Debian) on 127.0.0.1 serving `root`, with ETag and
/// Last-Modified handling as a feed host or an internal mirror has them. Its access log is kept
/// so tests can read the statuses it really answered (200, 304).
public final class LocalHTTPServer: Sendable {
    public let port: Int
    public let root: String
    public let accessLogPath: String
    private let server: BackgroundServer

    public var base: String { "http://127.0.0.1:\(port)" }

    public init(root: String) async throws {
        guard Tool.has("nginx") || FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else {
            throw RegistryUnavailable(reason: "nginx is not installed (apt-get install nginx-light)")
        }
        let directory = try Fixtures.temporaryDirectory("nginx")
        self.root = root
        port = try freePort()
        accessLogPath = directory + "/access.log"
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        let config = """
            daemon off;
            worker_processes 1;
            user root root;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log;
            events { worker_connections 64; }
            http {
                access_log \(accessLogPath) combined;
                client_body_temp_path \(directory)/tmp;
                proxy_temp_path \(directory)/tmp;
                fastcgi_temp_path \(directory)/tmp;
                uwsgi_temp_path \(directory)/tmp;
                scgi_temp_path \(directory)/tmp;
                server {
                    listen 127.0.0.1:\(port);
                    root \(root);
                }
            }
            """
        try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        server = try await BackgroundServer("nginx -p \"$1\" -c \"$1/nginx.conf\"", argument: directory, port: port)
    }

    public func stop() { server.stop() }

    /// The HTTP status of each request the server logged for a path containing `path`, in order.
    public func statuses(for path: String) -> [Int] {
        let log = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard line.contains(path), let request = line.range(of: "\" ") else { return nil }
            return Int(line[request.upperBound...].prefix { $0.isNumber })
        }
    }
}
