import Foundation
import Hummingbird
import HTTPTypes

/// The paging contract of every list endpoint: `limit` and an opaque `cursor`. When more
/// remain, the response carries `Link: <same query, next cursor>; rel="next"` (RFC 8288), and
/// object bodies a `next` cursor too; no `Link` means the last page. A cursor is a keyset
/// position (after the page's last item), not an offset: items added or removed meanwhile do
/// not shift the pages. Its shape is documented so that any cursor of that shape is a position.
enum Paging {
    /// The position a request's `cursor` names: nil without one (or an empty one); a 400 for
    /// one not of the endpoint's shape.
    static func position<Position: PagePosition>(_ request: Request, as type: Position.Type) -> Result<Position?, ProblemResponse> {
        let values = request.uri.queryParameters.getAll("cursor")
        guard !values.isEmpty, values != [""] else { return .success(nil) }
        guard values.count == 1, let position = Position(cursor: String(values[0])) else {
            return .failure(ProblemResponse(ServiceRoutes.problem(.badRequest, "cursor is not one this service gave (take it from the previous page's Link or next)")))
        }
        return .success(position)
    }

    /// Adds the `Link` to the next page.
    static func link(_ response: inout Response, request: Request, next: String?) {
        guard let next else { return }
        response.headers[.link] = "<\(address(request, path: request.uri.path, cursor: next))>; rel=\"next\""
    }

    /// `path` with the request's own query, its cursor replaced by `cursor`.
    static func address(_ request: Request, path: String, cursor: String) -> String {
        var components = URLComponents()
        components.path = path
        components.queryItems =
            request.uri.queryParameters.filter { $0.key != "cursor" }.map { URLQueryItem(name: String($0.key), value: String($0.value)) }
            + [URLQueryItem(name: "cursor", value: cursor)]
        // '+' is a space to form decoders: spell it out.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? path
    }
}

/// A keyset position written as a cursor.
protocol PagePosition {
    init?(cursor: String)
    var cursor: String { get }
}

/// A job id: the page holds older jobs.
extension Int64: PagePosition {
    init?(cursor: String) {
        guard (1...18).contains(cursor.count), cursor.allSatisfy(\.isASCIIDigit) else { return nil }
        self.init(cursor)
    }
    var cursor: String { String(self) }
}

/// A ready error response carried through `Result`.
struct ProblemResponse: Error {
    let response: Response
    init(_ response: Response) { self.response = response }
}

extension HTTPField.Name {
    static let link = HTTPField.Name("Link")!
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension PagePosition {
    /// `DIGITS:REST` (at most `digits` digits): the number and the rest.
    static func numbered(_ cursor: String, digits: Int) -> (Int64, String)? {
        guard let colon = cursor.firstIndex(of: ":"), (1...digits).contains(cursor.distance(from: cursor.startIndex, to: colon)),
            cursor[..<colon].allSatisfy(\.isASCIIDigit), let number = Int64(cursor[..<colon])
        else { return nil }
        return (number, String(cursor[cursor.index(after: colon)...]))
    }
}
