import Foundation

/// Encodes a value as compact JSON with sorted keys, unescaped slashes and ISO 8601 dates: the
/// bytes Foundation's `JSONEncoder` gives with `[.sortedKeys, .withoutEscapingSlashes]` and
/// `.iso8601`, written in one pass straight into a byte array. Foundation's encoder builds a tree
/// of every value and then walks it; for the report the service stores per image (about 50 KB),
/// that took more CPU than anything else the service adds to a scan. The tests hold the two to
/// the same bytes.
///
/// Keys come out sorted by their UTF-8 bytes, as Foundation sorts them: an object's members are
/// written in the order they are encoded, and reordered in place when the object closes.
public struct StreamingJSONEncoder: Sendable {
    public init() {}

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let output = JSONOutput()
        try output.encodeValue(value)
        output.close(downTo: 0)
        if let failure = output.failure { throw failure }
        return output.bytes
    }
}

/// The bytes written so far and the containers still open, innermost last. Codable has no "end
/// of container" call: a container closes when its value's `encode(to:)` returns, or when its
/// parent is written to again (which ends any nested container opened meanwhile).
final class JSONOutput {
    enum Kind {
        case object
        case array
        /// A `superEncoder()`'s value, written when asked for (`{}` if nothing is).
        case slot
    }

    struct Container {
        /// Told apart from a later container at the same depth, so that a write to one that closed is caught.
        var id: Int
        var kind: Kind
        /// Where its first member starts (after the opening bracket).
        var start: Int
        var count = 0
        /// An object's keys and where each member starts, in the order written.
        var members: [(key: String, start: Int)] = []
    }

    var bytes: [UInt8] = []
    var open: [Container] = []
    private var opened = 0
    /// A write the stream could not make, from a call that cannot throw: thrown at the end.
    var failure: EncodingError?

    init() {
        bytes.reserveCapacity(64 * 1024)
    }

    // MARK: containers

    /// Opens a container; returns its place.
    @discardableResult
    func open(_ kind: Kind) -> (index: Int, id: Int) {
        switch kind {
        case .object: bytes.append(UInt8(ascii: "{"))
        case .array: bytes.append(UInt8(ascii: "["))
        case .slot: break
        }
        opened += 1
        open.append(Container(id: opened, kind: kind, start: bytes.count))
        return (open.count - 1, opened)
    }

    /// Whether the container at `index` is still the one `id` names; if not, the failure to throw.
    func check(_ index: Int, _ id: Int) -> EncodingError? {
        guard index < open.count, open[index].id == id else {
            let error = EncodingError.invalidValue(
                index, EncodingError.Context(codingPath: [], debugDescription: "a container was written to after a later one closed it (the stream writes in order)"))
            failure = failure ?? error
            return error
        }
        return nil
    }

    /// Closes every container above `depth`.
    func close(downTo depth: Int) {
        while open.count > depth {
            let container = open.removeLast()
            switch container.kind {
            case .object:
                sortMembers(of: container)
                bytes.append(UInt8(ascii: "}"))
            case .array:
                bytes.append(UInt8(ascii: "]"))
            case .slot:
                if bytes.count == container.start { bytes.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")]) }
            }
        }
    }

    /// Starts the next member of the object at `index`: a comma after the first, then the key.
    func beginMember(_ key: String, of index: Int, id: Int) throws {
        if let error = check(index, id) { throw error }
        close(downTo: index + 1)
        if open[index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[index].count += 1
        open[index].members.append((key, bytes.count))
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Starts the next element of the array at `index`.
    func beginElement(of index: Int, id: Int) throws {
        if let error = check(index, id) { throw error }
        close(downTo: index + 1)
        if open[index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[index].count += 1
    }

    /// Rewrites a closing object's members in key order, if they were not written in it.
    private func sortMembers(of container: Container) {
        let members = container.members
        guard members.count > 1 else { return }
        let precedes: ((key: String, start: Int), (key: String, start: Int)) -> Bool = { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        if zip(members, members.dropFirst()).allSatisfy({ !precedes($1, $0) }) { return }
        let end = bytes.count
        let written = Array(bytes[container.start..<end])
        // A member runs to the comma before the next one, the last to the end.
        var ranges: [(key: String, range: Range<Int>)] = []
        ranges.reserveCapacity(members.count)
        for (index, member) in members.enumerated() {
            let memberEnd = index + 1 < members.count ? members[index + 1].start - 1 : end
            ranges.append((member.key, (member.start - container.start)..<(memberEnd - container.start)))
        }
        ranges.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        bytes.removeSubrange(container.start..<end)
        for (index, member) in ranges.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: written[member.range])
        }
    }

    // MARK: values

    func encodeValue<T: Encodable>(_ value: T) throws {
        // Foundation's own types, encoded as Foundation's encoder does; the rest by their `encode(to:)`.
        if T.self == String.self {
            writeString(value as! String)
        } else if T.self == Int.self {
            writeInteger(value as! Int)
        } else if T.self == Bool.self {
            writeBool(value as! Bool)
        } else if T.self == Double.self {
            try writeFloatingPoint(value as! Double)
        } else if T.self == Date.self {
            writeString((value as! Date).formatted(.iso8601))
        } else if T.self == URL.self {
            writeString((value as! URL).absoluteString)
        } else if T.self == Data.self {
            writeString((value as! Data).base64EncodedString())
        } else if T.self == Decimal.self {
            writeASCII((value as! Decimal).description)
        } else {
            let depth = open.count
            let start = bytes.count
            try value.encode(to: StreamingEncoder(output: self, depth: depth))
            close(downTo: depth)
            // A value that wrote nothing is an empty object, as Foundation writes it.
            if bytes.count == start { bytes.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")]) }
        }
    }

    func writeNull() {
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
    }

    func writeBool(_ value: Bool) {
        writeASCII(value ? "true" : "false")
    }

    func writeInteger<I: BinaryInteger>(_ value: I) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var scale: I.Magnitude = 1
        while magnitude / scale >= 10 {
            scale *= 10
            digits += 1
        }
        for _ in 0..<digits {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / scale))
            magnitude %= scale
            scale /= 10
        }
    }

    func writeFloatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not valid in JSON"))
        }
        // The shortest text that reads back as the value, without a trailing ".0" (Foundation's form).
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        writeASCII(text)
    }

    private func writeASCII(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        if let done: Void = text.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) {
            _ = done
        } else {
            writeEscaped(Array(text.utf8))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Copies runs that need no escape at once; escapes quotes, backslashes and control bytes.
    private func writeEscaped(_ utf8: some RandomAccessCollection<UInt8>) {
        var runStart = utf8.startIndex
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index = utf8.index(after: index)
                continue
            }
            bytes.append(contentsOf: utf8[runStart..<index])
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            default:
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
            }
            index = utf8.index(after: index)
            runStart = index
        }
        bytes.append(contentsOf: utf8[runStart..<index])
    }
}

/// The `Encoder` a value's `encode(to:)` writes through; `depth` is how many containers were
/// open when the value started, so its own container is the one at that index.
struct StreamingEncoder: Encoder {
    let output: JSONOutput
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(StreamingKeyedContainer(output: output, place: place(.object)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamingUnkeyedContainer(output: output, place: place(.array))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        StreamingSingleValueContainer(output: output)
    }

    /// The value's container: the one already open at its depth if it is of the kind asked for
    /// (a subclass and its superclass share one object), else a new one.
    private func place(_ kind: JSONOutput.Kind) -> (index: Int, id: Int) {
        if output.open.count > depth && output.open[depth].kind == kind { return (depth, output.open[depth].id) }
        output.close(downTo: depth)
        return output.open(kind)
    }
}

struct StreamingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let output: JSONOutput
    /// The object's place among the open containers.
    let place: (index: Int, id: Int)
    var codingPath: [any CodingKey] { [] }

    private func begin(_ key: Key) throws {
        try begin(key.stringValue)
    }

    private func begin(_ key: String) throws {
        try output.beginMember(key, of: place.index, id: place.id)
    }

    func encodeNil(forKey key: Key) throws {
        try begin(key)
        output.writeNull()
    }
    func encode(_ value: Bool, forKey key: Key) throws {
        try begin(key)
        output.writeBool(value)
    }
    func encode(_ value: String, forKey key: Key) throws {
        try begin(key)
        output.writeString(value)
    }
    func encode(_ value: Double, forKey key: Key) throws {
        try begin(key)
        try output.writeFloatingPoint(value)
    }
    func encode(_ value: Float, forKey key: Key) throws {
        try begin(key)
        try output.writeFloatingPoint(value)
    }
    func encode(_ value: Int, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int8, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int16, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int32, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: Int64, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt8, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt16, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt32, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt64, forKey key: Key) throws { try integer(value, key) }

    private func integer(_ value: some BinaryInteger, _ key: Key) throws {
        try begin(key)
        output.writeInteger(value)
    }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try output.encodeValue(value)
    }

    // These cannot throw: a write out of order is kept in `output.failure` and thrown at the end.
    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        _ = try? begin(key)
        return KeyedEncodingContainer(StreamingKeyedContainer<NestedKey>(output: output, place: output.open(.object)))
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _ = try? begin(key)
        return StreamingUnkeyedContainer(output: output, place: output.open(.array))
    }

    /// The superclass's value under the key "super", as Foundation's encoder names it.
    func superEncoder() -> any Encoder {
        superEncoder(named: "super")
    }

    func superEncoder(forKey key: Key) -> any Encoder {
        superEncoder(named: key.stringValue)
    }

    private func superEncoder(named key: String) -> any Encoder {
        _ = try? begin(key)
        output.open(.slot)
        return StreamingEncoder(output: output, depth: output.open.count)
    }
}

struct StreamingUnkeyedContainer: UnkeyedEncodingContainer {
    let output: JSONOutput
    let place: (index: Int, id: Int)
    var codingPath: [any CodingKey] { [] }
    var count: Int { output.check(place.index, place.id) == nil ? output.open[place.index].count : 0 }

    private func begin() throws {
        try output.beginElement(of: place.index, id: place.id)
    }

    func encodeNil() throws {
        try begin()
        output.writeNull()
    }
    func encode(_ value: Bool) throws {
        try begin()
        output.writeBool(value)
    }
    func encode(_ value: String) throws {
        try begin()
        output.writeString(value)
    }
    func encode(_ value: Double) throws {
        try begin()
        try output.writeFloatingPoint(value)
    }
    func encode(_ value: Float) throws {
        try begin()
        try output.writeFloatingPoint(value)
    }
    func encode(_ value: Int) throws { try integer(value) }
    func encode(_ value: Int8) throws { try integer(value) }
    func encode(_ value: Int16) throws { try integer(value) }
    func encode(_ value: Int32) throws { try integer(value) }
    func encode(_ value: Int64) throws { try integer(value) }
    func encode(_ value: UInt) throws { try integer(value) }
    func encode(_ value: UInt8) throws { try integer(value) }
    func encode(_ value: UInt16) throws { try integer(value) }
    func encode(_ value: UInt32) throws { try integer(value) }
    func encode(_ value: UInt64) throws { try integer(value) }

    private func integer(_ value: some BinaryInteger) throws {
        try begin()
        output.writeInteger(value)
    }

    func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try output.encodeValue(value)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        _ = try? begin()
        return KeyedEncodingContainer(StreamingKeyedContainer<NestedKey>(output: output, place: output.open(.object)))
    }

    func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        _ = try? begin()
        return StreamingUnkeyedContainer(output: output, place: output.open(.array))
    }

    func superEncoder() -> any Encoder {
        _ = try? begin()
        output.open(.slot)
        return StreamingEncoder(output: output, depth: output.open.count)
    }
}

struct StreamingSingleValueContainer: SingleValueEncodingContainer {
    let output: JSONOutput
    var codingPath: [any CodingKey] { [] }

    func encodeNil() throws { output.writeNull() }
    func encode(_ value: Bool) throws { output.writeBool(value) }
    func encode(_ value: String) throws { output.writeString(value) }
    func encode(_ value: Double) throws { try output.writeFloatingPoint(value) }
    func encode(_ value: Float) throws { try output.writeFloatingPoint(value) }
    func encode(_ value: Int) throws { output.writeInteger(value) }
    func encode(_ value: Int8) throws { output.writeInteger(value) }
    func encode(_ value: Int16) throws { output.writeInteger(value) }
    func encode(_ value: Int32) throws { output.writeInteger(value) }
    func encode(_ value: Int64) throws { output.writeInteger(value) }
    func encode(_ value: UInt) throws { output.writeInteger(value) }
    func encode(_ value: UInt8) throws { output.writeInteger(value) }
    func encode(_ value: UInt16) throws { output.writeInteger(value) }
    func encode(_ value: UInt32) throws { output.writeInteger(value) }
    func encode(_ value: UInt64) throws { output.writeInteger(value) }
    func encode<T: Encodable>(_ value: T) throws { try output.encodeValue(value) }
}
