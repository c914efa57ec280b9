import HTTPTypes
import Hummingbird

/// Answers a request for a known path with a method it does not take (any method: schemathesis
/// tries QUERY too) with 405 and an `Allow` header (RFC 9110 §15.5.6), instead of the 404 of an
/// unknown path. Added after every route, it wraps only the router's not-found responder, so it
/// sees exactly the requests no route took; the token check added before it still runs first.
struct MethodNotAllowed<Context: RequestContext>: RouterMiddleware {
    let routes: [(path: RouterPath, allow: String)]

    init(routes described: [Router<Context>.RouteDescription]) {
        let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
        routes = Dictionary(grouping: described, by: { $0.path.description }).values.map { group in
            let methods = Set(group.map(\.method))
            let allow = (order.filter(methods.contains) + methods.filter { !order.contains($0) }).map(\.rawValue).joined(separator: ", ")
            return (group[0].path, allow)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let components = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard let match = routes.first(where: { Self.matches($0.path, components) }) else { return try await next(request, context) }
        var response = ServiceRoutes.problem(.methodNotAllowed, "\(request.method.rawValue) is not allowed here; use \(match.allow)")
        response.headers[.allow] = match.allow
        return response
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
    func refuseUndeclaredMethods() {
        add(middleware: MethodNotAllowed<Context>(routes: routes))
    }
}
