import HTTPTypes
import Hummingbird

/// Answers a request for a known path with a method it does not take (any method: schemathesis
/// tries QUERY too) with 405 and an `Allow` header (RFC 9110 §15.5.6), instead of the 404 of an
/// unknown path. Added after every route, it wraps only the router's not-found responder, so it
/// sees exactly the requests no route took; the token check added before it still runs first.
/// A path no route has at all is answered 404 in the one error shape.
struct MethodNotAllowed<Context: RequestContext>: RouterMiddleware {
    let routes: [(path: RouterPath, allow: String)]
    /// Last components that make a catch-all path read-only (`…/scans`, a history under
    /// `v1/images/**`, whose other methods are the image's): such a path allows GET alone.
    let readOnlyEndings: Set<String>

    init(routes described: [Router<Context>.RouteDescription], readOnlyEndings: Set<String> = []) {
        self.readOnlyEndings = readOnlyEndings
        let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
        routes = Dictionary(grouping: described, by: { $0.path.description }).values.map { group in
            let methods = Set(group.map(\.method))
            let allow = (order.filter(methods.contains) + methods.filter { !order.contains($0) }).map(\.rawValue).joined(separator: ", ")
            return (group[0].path, allow)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let components = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard let match = routes.first(where: { Self.matches($0.path, components) }) else {
            // An unknown path: the one error shape, not Hummingbird's empty 404.
            do {
                return try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                return ServiceRoutes.problem(.notFound, "no such path: \(request.uri.path) (the API is described at /openapi.json)")
            }
        }
        return Self.refusal(request.method, allow: Self.readOnly(match.path, components, endings: readOnlyEndings) ? "GET" : match.allow)
    }

    /// 405 with `Allow`.
    static func refusal(_ method: HTTPRequest.Method, allow: String) -> Response {
        var response = ServiceRoutes.problem(.methodNotAllowed, "\(method.rawValue) is not allowed here; use \(allow)")
        response.headers[.allow] = allow
        return response
    }

    /// Whether a catch-all `path` matched `components` that end in a read-only ending (past the
    /// two segments a repository and a reference need at least).
    static func readOnly(_ path: RouterPath, _ components: [Substring], endings: Set<String>) -> Bool {
        let elements = Array(path)
        guard elements.last?.description == "**", let last = components.last, endings.contains(String(last)) else { return false }
        return components.count >= elements.count - 1 + 3
    }

    /// Whether `path` (literal segments, `{captures}`, a trailing `**`) matches the components.
    static func matches(_ path: RouterPath, _ components: [Substring]) -> Bool {
        var index = 0
        for element in path {
            if element.description == "**" { return index < components.count }
            guard index < components.count, element ~= components[index] else { return false }
            index += 1
        }
        return index == components.count
    }
}

extension Router {
    /// Call after every route is added (see `MethodNotAllowed`).
    func refuseUndeclaredMethods(readOnlyEndings: Set<String> = []) {
        add(middleware: MethodNotAllowed<Context>(routes: routes, readOnlyEndings: readOnlyEndings))
    }
}
