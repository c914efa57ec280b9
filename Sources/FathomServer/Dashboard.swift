import Crypto
import FathomCore
import FathomOCI
import FathomReport
import FathomStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The dashboard: the fleet report live at `/` and each image's report at
/// `/images/{repository}/{reference}`, server-rendered from the store, read-only. It takes the
/// API token as a bearer header, or from the login form, which sets a session cookie
/// (`HttpOnly`, `SameSite=Strict`, and `Secure` when the request came over HTTPS) holding a
/// keyed hash of the token, never the token itself.
extension ServiceRoutes {
    static let sessionCookie = "fathom_session"

    func addDashboardRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { request, context in
            guard signedIn(request) else { return Self.redirect("/login") }
            return try await fleetPage(logger: context.logger)
        }
        router.get("images") { request, context in
            guard signedIn(request) else { return Self.redirect("/login") }
            return try await imagesPage(request, logger: context.logger)
        }
        router.get("images/**") { request, context in
            guard signedIn(request) else { return Self.redirect("/login") }
            return try await imagePage(context.parameters.getCatchAll(), registry: request.uri.queryParameters.get("registry"))
        }
        router.get("login") { _, _ in Self.page(Self.loginForm(error: nil)) }
        router.post("login") { request, _ in
            let body = String(decoding: try await Self.body(request, limit: 16 << 10), as: UTF8.self)
            let token = Self.formValue("token", in: body)
            guard let expected = configuration.apiToken, let token, BearerTokens.same(token, expected) else {
                return Self.page(Self.loginForm(error: configuration.apiToken == nil ? "The API has no token configured." : "That token is not right."), status: .unauthorized)
            }
            var response = Self.redirect("/")
            let lifetime = Int(configuration.sessionLifetime.components.seconds)
            response.headers[.setCookie] =
                "\(Self.sessionCookie)=\(Self.session(for: expected, issued: Date())); Path=/; Max-Age=\(lifetime); HttpOnly\(Self.secure(request)); SameSite=Strict"
            return response
        }
        router.post("logout") { request, _ in
            var response = Self.redirect("/login")
            response.headers[.setCookie] = "\(Self.sessionCookie)=; Path=/; Max-Age=0; HttpOnly\(Self.secure(request)); SameSite=Strict"
            return response
        }
    }

    /// `; Secure` when the browser reached the service over HTTPS (a proxy or ingress that ends
    /// TLS says so with `X-Forwarded-Proto`). Over plain HTTP a browser drops a Secure cookie
    /// (except on localhost), so signing in would silently lead back to the form; the token
    /// itself crossed in the clear there anyway.
    static func secure(_ request: Request) -> String {
        let proto = request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces)
        return proto?.lowercased() == "https" ? "; Secure" : ""
    }

    /// The bearer header or a live session cookie of the API token.
    func signedIn(_ request: Request, now: Date = Date()) -> Bool {
        guard let token = configuration.apiToken else { return false }
        if let given = BearerTokens.bearer(request.headers[.authorization]), BearerTokens.same(given, token) { return true }
        let cookies = request.headers[values: .cookie].flatMap { $0.split(separator: ";") }
        for cookie in cookies {
            let pair = cookie.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == Self.sessionCookie,
                Self.validSession(String(pair[1]), token: token, lifetime: configuration.sessionLifetime, now: now)
            {
                return true
            }
        }
        return false
    }

    /// The cookie's value: the time it was issued and an HMAC-SHA256 of that time under the
    /// token. It expires on the server after the session lifetime (a copied cookie does not
    /// live forever), changes when the token does, and holds across restarts within its lifetime.
    static func session(for token: String, issued: Date) -> String {
        let seconds = Int64(issued.timeIntervalSince1970)
        return "\(seconds).\(signature(token: token, issued: seconds))"
    }

    static func signature(token: String, issued seconds: Int64) -> String {
        let key = SymmetricKey(data: Data(token.utf8))
        return HMAC<SHA256>.authenticationCode(for: Data("fathom dashboard session \(seconds)".utf8), using: key)
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `value` is a session cookie of `token` issued within `lifetime` before `now`.
    static func validSession(_ value: String, token: String, lifetime: Duration, now: Date) -> Bool {
        let parts = value.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let seconds = Int64(parts[0]), BearerTokens.same(String(parts[1]), signature(token: token, issued: seconds)) else {
            return false
        }
        let age = now.timeIntervalSince1970 - Double(seconds)
        // A minute of clock skew between replicas is allowed; a cookie from the future is not.
        return age >= -60 && age <= Double(lifetime.components.seconds)
    }

    func fleetPage(logger: Logger) async throws -> Response {
        guard let summary = try await storedFleetSummary(top: 20, logger: logger) else { return Self.listingPending(page: "Fleet") }
        let page = FleetHTMLReport(summary: summary, trend: try await store.fleetTrend(), imageLink: Self.imageLink)
        // The fleet report is the one `fathom registry` writes; the dashboard adds its way to every image.
        let navigation = "<body><nav class=\"dashboard\" style=\"padding:8px 24px;font:14px system-ui,sans-serif\">"
            + "<a href=\"/images\">Every image: list, search, dead jobs →</a></nav>"
        return Self.page(page.render().replacingOccurrences(of: "<body>", with: navigation))
    }

    /// The dashboard's page of a listed image, by the repository and tag (or digest) its report
    /// is found by: a local source's too, whose name is no registry reference.
    static func imageLink(_ image: ListedImage) -> String? {
        guard let repository = image.repository, let at = image.tag ?? image.manifestDigest else { return imageLink(image.image) }
        return "/images/\(repository)/\(at)" + (image.registry.map { "?registry=\($0)" } ?? "")
    }

    /// The dashboard's page of an image, by its name.
    static func imageLink(_ name: String) -> String? {
        guard let reference = try? ImageReference(parsing: name), let at = reference.tag ?? reference.digest?.description else { return nil }
        return "/images/\(reference.repository)/\(at)?registry=\(reference.registry)"
    }

    /// Every image, a page at a time, filtered and searched as `GET /v1/images` is (a plain GET
    /// form: no script), and the dead jobs with their errors.
    func imagesPage(_ request: Request, logger: Logger) async throws -> Response {
        var filter: ImageFilter
        switch ImageFilter.parse(request) {
        case .failure:
            return Self.page(HTMLMessage.page(title: "Images", message: "That search is not one this page makes: start again from /images."), status: .badRequest)
        case .success(let parsed): filter = parsed
        }
        if request.uri.queryParameters.get("limit") == nil { filter.limit = 50 }
        guard let answer = try await listImages(filter, logger: logger) else { return Self.listingPending(page: "Images") }
        let dead = try await store.jobs(state: .dead, limit: 20)
        let deadCount = try await store.jobCounts()[.dead] ?? 0
        return Self.page(ImagesHTML.render(answer: answer, request: request, dead: dead, deadCount: deadCount))
    }

    func imagePage(_ path: [Substring], registry: String?) async throws -> Response {
        let parts = path.map(String.init).joined(separator: "/").removingPercentEncoding?.split(separator: "/").map(String.init) ?? []
        guard parts.count >= 2, let reference = parts.last else {
            return Self.page(HTMLMessage.page(title: "Not found", message: "No report of that image."), status: .notFound)
        }
        let document: [UInt8]
        switch Self.resolve(try await store.reports(repository: parts.dropLast().joined(separator: "/"), reference: reference), registry: registry) {
        case .found(_, let found): document = found
        case .ambiguous(let registries):
            return Self.page(
                HTMLMessage.page(title: "Several images", message: "That name is held by several registries: \(registries.joined(separator: ", ")). Add ?registry=HOST to the address."),
                status: .conflict)
        case .none:
            return Self.page(HTMLMessage.page(title: "Not found", message: "No report of that image."), status: .notFound)
        }
        let report = try ScanReport.decode(document)
        return Self.page(report.html(backLink: "/"))
    }

    static func page(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                // Nothing but the page's own inline style: no scripts, no other origin.
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func loginForm(error: String?) -> String {
        HTMLMessage.page(
            title: "Sign in",
            message: (error.map { "<p class=\"error\">\(HTMLMessage.escape($0))</p>" } ?? "")
                + """
                <form method="post" action="/login"><label>API token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
                <button type="submit">Sign in</button></form>
                """, raw: true)
    }

    /// A value of an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}

/// The dashboard's small pages (sign-in, not found).
enum HTMLMessage {
    static func page(title: String, message: String, raw: Bool = false) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>fathom · \(escape(title))</title>
        <style>body{font:15px system-ui,sans-serif;background:#f6f7f9;margin:0}main{max-width:420px;margin:80px auto;background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:24px}
        input{display:block;width:100%;margin:8px 0 16px;padding:6px;box-sizing:border-box}.error{color:#8e1b1b}</style></head>
        <body><main><h1>fathom · \(escape(title))</h1>\(raw ? message : "<p>\(escape(message))</p>")</main></body></html>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
