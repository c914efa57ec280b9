// Maven's ComparableVersion ordering (https://maven.apache.org/pom.html#version-order-specification),
// as the vectors in shared/data/versions record it (a letter-to-digit transition opens a
// sub-list in place; `release` is an alias of the release qualifier; a list compared with
// nothing compares every item):
// '.' and '-' separators and digit/letter transitions split a version into numbers and
// qualifiers; '-' (and a transition) opens a sub-list; trailing "null" items (0, "", ga,
// final, release) are dropped; known qualifiers order alpha < beta < milestone < rc <
// snapshot < "" < sp < anything else (lexically).

/// Maven artifact versions.
public struct MavenVersion: VersionComparator {
    public let ecosystem = "maven"
    public init() {}

    indirect enum Item {
        /// Digits without leading zeros ("0" for zero).
        case number(String)
        /// A qualifier after aliasing.
        case string(String)
        case list([Item])

        var isNull: Bool {
            switch self {
            case .number(let digits): return digits == "0"
            case .string(let value): return Item.comparable(value) == Item.releaseIndex
            case .list(let items): return items.isEmpty
            }
        }

        static let qualifiers = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]
        static let releaseIndex = "5"

        static func comparable(_ qualifier: String) -> String {
            if let index = qualifiers.firstIndex(of: qualifier) { return String(index) }
            return "\(qualifiers.count)-\(qualifier)"
        }

        static func string(_ value: String, followedByDigit: Bool) -> Item {
            var value = value
            if followedByDigit && value.count == 1 {
                switch value {
                case "a": value = "alpha"
                case "b": value = "beta"
                case "m": value = "milestone"
                default: break
                }
            }
            switch value {
            case "ga", "final", "release": value = ""
            case "cr": value = "rc"
            default: break
            }
            return .string(value)
        }

        static func number(_ digits: Substring) -> Item {
            let trimmed = digits.drop { $0 == "0" }
            return .number(trimmed.isEmpty ? "0" : String(trimmed))
        }

        /// Compares with another item, or with "nothing" (a shorter list's missing item).
        func compare(_ other: Item?) -> Int {
            guard let other else {
                switch self {
                case .number(let digits): return digits == "0" ? 0 : 1
                case .string(let value): return Self.order(Item.comparable(value), Item.releaseIndex)
                case .list(let items):
                    for item in items {
                        let result = item.compare(nil)
                        if result != 0 { return result }
                    }
                    return 0
                }
            }
            switch (self, other) {
            case (.number(let a), .number(let b)):
                if a.count != b.count { return a.count < b.count ? -1 : 1 }
                return Self.order(a, b)
            case (.number, _): return 1
            case (.string, .number): return -1
            case (.string(let a), .string(let b)): return Self.order(Item.comparable(a), Item.comparable(b))
            case (.string, .list): return -1
            case (.list, .number): return -1
            case (.list, .string): return 1
            case (.list(let left), .list(let right)):
                for index in 0..<max(left.count, right.count) {
                    let l = index < left.count ? left[index] : nil
                    let r = index < right.count ? right[index] : nil
                    let result: Int
                    if let l { result = l.compare(r) } else if let r { result = -r.compare(nil) } else { result = 0 }
                    if result != 0 { return result }
                }
                return 0
            }
        }

        static func order(_ a: String, _ b: String) -> Int {
            // Java's String.compareTo: UTF-16 code unit order.
            let x = Array(a.utf16)
            let y = Array(b.utf16)
            if x == y { return 0 }
            return x.lexicographicallyPrecedes(y) ? -1 : 1
        }
    }

    /// A mutable list under construction; sub-lists are referenced by index paths.
    final class Builder {
        var items: [Node] = []
        enum Node {
            case item(Item)
            case list(Builder)
        }
        var isEmpty: Bool { items.isEmpty }

        func build() -> Item {
            var built: [Item] = items.map { node in
                switch node {
                case .item(let item): return item
                case .list(let builder): return builder.build()
                }
            }
            // normalize: drop trailing null items, looking through trailing lists.
            var index = built.count - 1
            while index >= 0 {
                if built[index].isNull {
                    built.remove(at: index)
                } else if case .list = built[index] {
                    // keep looking before a non-null list
                } else {
                    break
                }
                index -= 1
            }
            return .list(built)
        }
    }

    static func parse(_ text: String) -> Item {
        let version = Array(text.lowercased())
        let root = Builder()
        var list = root
        var isDigit = false
        var start = 0
        func substring(_ from: Int, _ to: Int) -> Substring { Substring(String(version[from..<to])) }
        func parseItem(_ digit: Bool, _ from: Int, _ to: Int) -> Item {
            digit ? Item.number(substring(from, to)) : Item.string(String(substring(from, to)), followedByDigit: false)
        }
        func openList() {
            let next = Builder()
            list.items.append(.list(next))
            list = next
        }
        for index in 0..<version.count {
            let character = version[index]
            if character == "." {
                list.items.append(.item(index == start ? .number("0") : parseItem(isDigit, start, index)))
                start = index + 1
            } else if character == "-" {
                let item = index == start ? Item.number("0") : parseItem(isDigit, start, index)
                start = index + 1
                // A release qualifier opening a sub-list says nothing ("1-ga-1" is "1-1").
                if case .string = item, item.isNull, list.isEmpty, list !== root { continue }
                list.items.append(.item(item))
                openList()
            } else if character.isASCII && character.isNumber {
                if !isDigit && index > start {
                    list.items.append(.item(Item.string(String(substring(start, index)), followedByDigit: true)))
                    start = index
                    openList()
                }
                isDigit = true
            } else {
                if isDigit && index > start {
                    list.items.append(.item(parseItem(true, start, index)))
                    start = index
                    openList()
                }
                isDigit = false
            }
        }
        if version.count > start {
            list.items.append(.item(parseItem(isDigit, start, version.count)))
        }
        return root.build()
    }

    public func compare(_ lhs: String, _ rhs: String) throws -> ComparisonResult {
        .of(Self.parse(lhs).compare(Self.parse(rhs)))
    }
}
