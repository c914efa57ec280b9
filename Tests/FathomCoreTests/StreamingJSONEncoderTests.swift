import FathomCore
import Foundation
import Testing

/// The streaming encoder against Foundation's `JSONEncoder` (compact, sorted keys, unescaped
/// slashes, ISO 8601 dates) as the oracle: the same bytes, value for value.
@Suite struct StreamingJSONEncoderTests {
    static func foundation(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value))
    }

    static func expectSameBytes(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let streamed = String(decoding: try StreamingJSONEncoder().encode(value), as: UTF8.self)
        let oracle = String(decoding: try foundation(value), as: UTF8.self)
        #expect(streamed == oracle, sourceLocation: sourceLocation)
    }

    @Test func stringsAreEscapedAsFoundationEscapesThem() throws {
        var controls = ""
        for byte in 0..<0x20 { controls.unicodeScalars.append(Unicode.Scalar(UInt8(byte))) }
        try Self.expectSameBytes([
            "", "plain", controls, "quote \" backslash \\ slash / del \u{7F}", "é ü 中文 \u{2028} 😀", "tail\\", "\"",
            String(repeating: "long run without escapes ", count: 100) + "\n",
        ])
    }

    @Test func numbersAreWrittenAsFoundationWritesThem() throws {
        try Self.expectSameBytes([0, 1, -1, 7.5, 0.1, -0.0, 1e21, 1e-7, 12_345_678.9, 0.00043, 3.0, 1 / 3, Double.ulpOfOne,
                                  Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude, -2.5e-300])
        try Self.expectSameBytes([Float(0.1), Float(7.5), Float(1e-7), Float(3)])
        try Self.expectSameBytes([Int.min, Int.max, 0, 9, 10, 99, 100, -10])
        try Self.expectSameBytes(Integers())
    }

    @Test func nonFiniteNumbersAreAnError() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(["x": Double.infinity]) }
    }

    @Test func foundationsOwnTypesAreEncodedAsItsEncoderDoes() throws {
        try Self.expectSameBytes(Foundations())
        try Self.expectSameBytes([Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_764_950_400.75)])
    }

    @Test func keysAreSortedAtEveryLevel() throws {
        try Self.expectSameBytes(["b": ["z": 1, "a": 2, "A": 3, "_": 4, "a10": 5, "a9": 6], "a": [:], "é": ["": 0]])
        try Self.expectSameBytes(Outer())
        try Self.expectSameBytes([Outer(), Outer()])
        try Self.expectSameBytes(["one": Optional<Int>.none, "two": 2])
        try Self.expectSameBytes(Optionals())
    }

    @Test func nestedContainersAndSuperEncodersCloseWhereTheyShould() throws {
        try Self.expectSameBytes(Nested())
        try Self.expectSameBytes([Nested(), Nested()])
        try Self.expectSameBytes(Derived())
        try Self.expectSameBytes(["empty": Empty()])
        try Self.expectSameBytes([[Int]]())
        try Self.expectSameBytes([[Int]()])
    }

    /// Foundation keeps every container until the end; a stream cannot go back into one it
    /// closed, and says so rather than writing a broken document.
    @Test func writingToAClosedContainerIsAnError() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(BackTracking()) }
    }

    /// Random documents (seeded: the same each run), nested objects with keys in every order,
    /// arrays, strings of any character, numbers of every size: the same bytes as Foundation's.
    @Test func randomDocumentsAreFoundationsBytes() throws {
        var random = SplitMix(seed: 0x6661_7468_6f6d)
        for _ in 0..<2000 {
            try Self.expectSameBytes(Tree.random(&random, depth: 4))
        }
    }

    /// SplitMix64: a small seeded generator, so that a failure can be run again.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    indirect enum Tree: Encodable {
        case object([String: Tree]), array([Tree]), string(String), double(Double), integer(Int64), bool(Bool), null

        static let characters: [Character] = ["a", "B", "z", "0", "9", "_", "-", " ", "/", "\\", "\"", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "ß", "中", "\u{2028}", "😀"]

        static func text(_ random: inout SplitMix, length: Int) -> String {
            String((0..<Int.random(in: 0...length, using: &random)).map { _ in characters.randomElement(using: &random)! })
        }

        static func random(_ random: inout SplitMix, depth: Int) -> Tree {
            switch Int.random(in: 0..<(depth > 0 ? 7 : 5), using: &random) {
            case 0: return .string(text(&random, length: 12))
            case 1:
                let doubles: [Double] = [Double.random(in: -1e6...1e6, using: &random), Double.random(in: 0...1, using: &random) * 1e-300,
                                         Double(Int.random(in: -1000...1000, using: &random)), Double.random(in: 0...1, using: &random) * 1e300]
                return .double(doubles.randomElement(using: &random)!)
            case 2: return .integer(Int64.random(in: Int64.min...Int64.max, using: &random) >> UInt64.random(in: 0...63, using: &random))
            case 3: return .bool(Bool.random(using: &random))
            case 4: return .null
            case 5: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in Tree.random(&random, depth: depth - 1) })
            default:
                var members: [String: Tree] = [:]
                for _ in 0..<Int.random(in: 0...6, using: &random) { members[text(&random, length: 4)] = Tree.random(&random, depth: depth - 1) }
                return .object(members)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            switch self {
            case .object(let members): try single.encode(members)
            case .array(let elements): try single.encode(elements)
            case .string(let text): try single.encode(text)
            case .double(let number): try single.encode(number)
            case .integer(let number): try single.encode(number)
            case .bool(let flag): try single.encode(flag)
            case .null: try single.encodeNil()
            }
        }
    }

    /// A superclass's value written after its parent moved on has nowhere to go either.
    @Test func writingThroughALateSuperEncoderIsAnError() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(LateSuper(keyed: true)) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(LateSuper(keyed: false)) }
    }

    /// Foundation keeps a key's last value; so does the stream (a subclass that says a key again).
    @Test func aKeyWrittenTwiceKeepsItsLastValue() throws {
        try Self.expectSameBytes(Twice())
        try Self.expectSameBytes(Renamed())
    }

    @Test func wideIntegersAndTopLevelsThatWriteNothingAreAsFoundationHasThem() throws {
        try Self.expectSameBytes([Int128.min, Int128.max, 0, -1])
        try Self.expectSameBytes(["wide": UInt128.max])
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(Empty()) }
        #expect(throws: EncodingError.self) { try Self.foundation(Empty()) }
    }

    struct LateSuper: Encodable {
        var keyed: Bool
        enum Keys: String, CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            if keyed {
                var container = encoder.container(keyedBy: Keys.self)
                let late = container.superEncoder(forKey: .b)
                try container.encode(1, forKey: .a)
                try ["x": 5].encode(to: late)
            } else {
                var container = encoder.unkeyedContainer()
                let late = container.superEncoder()
                try container.encode(1)
                try "x".encode(to: late)
            }
        }
    }

    struct Twice: Encodable {
        enum Keys: String, CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .b)
            try container.encode(2, forKey: .a)
            try container.encode([3], forKey: .b)
        }
    }

    final class Renamed: Base {
        enum Keys: String, CodingKey { case base, x }
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("again", forKey: .base)
            try container.encode(1, forKey: .x)
        }
    }

    struct BackTracking: Encodable {
        enum Keys: String, CodingKey { case first, second, late }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var first = container.nestedContainer(keyedBy: Keys.self, forKey: .first)
            try first.encode(1, forKey: .first)
            var second = container.nestedUnkeyedContainer(forKey: .second)
            try second.encode(2)
            try first.encode(3, forKey: .late)
        }
    }

    struct Integers: Encodable {
        var a = Int8.min, b = Int16.min, c = Int32.min, d = Int64.min, e = UInt.max
        var f = UInt8.max, g = UInt16.max, h = UInt32.max, i = UInt64.max, j = Int8.max
    }

    struct Foundations: Encodable {
        var date = Date(timeIntervalSince1970: 1_764_950_400)
        var url = URL(string: "https://security-tracker.debian.org/tracker/CVE-2024-22365")!
        var data = Data([0, 1, 2, 250, 255])
        var decimal = Decimal(string: "1.50")!
        var dates = ["later": Date(timeIntervalSince1970: 2_000_000_000)]
    }

    /// Declared out of key order, with a dictionary and an array of objects inside.
    struct Outer: Encodable {
        var zeta = "last"
        var alpha = [Inner(), Inner()]
        var middle: [String: Inner] = ["y": Inner(), "x": Inner()]
        var beta = 2
    }

    struct Inner: Encodable {
        var severity = "HIGH"
        var cvss = [7.5, 9.8]
        var id = "CVE-2024-0001"
    }

    struct Optionals: Encodable {
        var absent: String? = nil
        var present: String? = "here"
        var list: [String?] = ["a", nil]
    }

    /// Writes a nested object and array, then goes on writing to its own object.
    struct Nested: Encodable {
        enum Keys: String, CodingKey { case z, nested, list, a, sup }
        enum InnerKeys: String, CodingKey { case q, p }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .z)
            var nested = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .nested)
            try nested.encode("q", forKey: .q)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            var inner = list.nestedContainer(keyedBy: InnerKeys.self)
            try inner.encode(true, forKey: .p)
            try inner.encode(false, forKey: .q)
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encodeNil()
            try list.encode("after")
            try container.encode("a", forKey: .a)
            try ["x": 1].encode(to: container.superEncoder(forKey: .sup))
            _ = container.superEncoder()
        }
    }

    class Base: Encodable {
        var base = "b"
    }

    /// A subclass and its superclass sharing one object.
    final class Derived: Base {
        enum Keys: String, CodingKey { case derived }
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .derived)
        }
    }

    struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }
}
