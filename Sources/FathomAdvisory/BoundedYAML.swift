import FathomCore
public import Yams

/// YAML with a bound on what it expands to. An alias repeats its anchor's subtree, so a few
/// hundred bytes can stand for billions of nodes ("billion laughs"): composing shares the
/// subtrees, and a walk that stops at `nodeLimit` counts what a decoder would visit before any
/// decoder does. No real feed uses aliases; the limit is far above the largest (Alpine's secdb
/// main.yaml is about 100,000 nodes).
public enum BoundedYAML {
    public static let nodeLimit = 5_000_000

    /// The document's root node, or nil when it is empty. `resolver` types the scalars as
    /// `Yams.load` does; decoding takes them as YAMLDecoder does (merge keys only).
    public static func compose(_ text: String, resolver: Resolver = .default, limit: Int = nodeLimit) throws -> Node? {
        guard let root = try Yams.compose(yaml: text, resolver) else { return nil }
        var visited = 0
        var pending = [root]
        while let node = pending.popLast() {
            visited += 1
            guard visited <= limit else {
                throw FathomError(
                    .limitExceeded, "the YAML expands to more than \(limit) nodes (aliases repeating an anchor?): not read")
            }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    pending.append(key)
                    pending.append(value)
                }
            case .sequence(let sequence): pending.append(contentsOf: sequence)
            default: break
            }
        }
        return root
    }

    /// `Decodable` from bounded YAML, with the scalars as YAMLDecoder resolves them.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        guard let root = try compose(text, resolver: Resolver.basic.appending(.merge)) else { throw FathomError(.invalidInput, "the YAML document is empty") }
        return try YAMLDecoder().decode(type, from: root)
    }
}
