import Foundation

/// Encodes a value as compact JSON with sorted keys, unescaped slashes and ISO 8601 dates: the
/// bytes Foundation's `JSONEncoder` gives with `[.sortedKeys, .withoutEscapingSlashes]` and
/// `.iso8601`, written in one pass straight into a byte array. Foundation's encoder builds a tree
/// of every value and then walks it; for the report the service stores per image (about 50 KB),
/// that took more CPU than anything else the service adds to a scan. The tests hold the two to
/// the same bytes.
///
/// Keys come out sorted by their UTF-8 bytes, as Foundation sorts them: an object's members are
/// written in the order they are encoded, and reordered in place when the object closes (a key
/// written twice keeps its last value, as in Foundation's; two keys that differ only in their
/// Unicode normalization stay two, where Foundation's dictionary merges them). A stream cannot go back: a write to
/// a container after a later one closed it is an error, where Foundation's tree would take it.
/// `codingPath` is always empty and `userInfo` has nothing.
public struct StreamingJSONEncoder: Sendable {
    public init() {}

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let output = JSONOutput()
        try output.encodeValue(value)
        if output.bytes.isEmpty {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "Top-level \(type(of: value)) did not encode any values."))
        }
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
        /// An object's first entry in `keys` and `memberStarts`.
        var firstMember: Int
    }

    // Only this encoder's own calls touch these, one at a time: the run-time exclusivity checks
    // of a class's stored properties were a fifth of its CPU.
    @exclusivity(unchecked) var bytes: [UInt8] = []
    @exclusivity(unchecked) var open: [Container] = []
    /// The open objects' keys and where each member starts, in the order written (a stack:
    /// an object's entries are dropped when it closes).
    @exclusivity(unchecked) private var keys: [String] = []
    @exclusivity(unchecked) private var memberStarts: [Int] = []
    private var opened = 0
    /// A write the stream could not make, from a call that cannot throw: thrown at the end.
    var failure: EncodingError?

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
        open.append(Container(id: opened, kind: kind, start: bytes.count, firstMember: keys.count))
        return (open.count - 1, opened)
    }

    /// Whether the container at `index` is still the one `id` names; if not, the failure is kept.
    func isOpen(_ index: Int, _ id: Int) -> Bool {
        if index < open.count && open[index].id == id { return true }
        failure = failure ?? Self.outOfOrder
        return false
    }

    static var outOfOrder: EncodingError {
        EncodingError.invalidValue(
            "", EncodingError.Context(codingPath: [], debugDescription: "a container was written to after a later one closed it (the stream writes in order)"))
    }

    /// Closes every container above `depth`.
    func close(downTo depth: Int) {
        while open.count > depth {
            let container = open.removeLast()
            switch container.kind {
            case .object:
                sortMembers(of: container)
                keys.removeSubrange(container.firstMember...)
                memberStarts.removeSubrange(container.firstMember...)
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
        guard isOpen(index, id) else { throw Self.outOfOrder }
        close(downTo: index + 1)
        if open[index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[index].count += 1
        keys.append(key)
        memberStarts.append(bytes.count)
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Starts the next element of the array at `index`.
    func beginElement(of index: Int, id: Int) throws {
        guard isOpen(index, id) else { throw Self.outOfOrder }
        close(downTo: index + 1)
        if open[index].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[index].count += 1
    }

    /// Rewrites a closing object's members in key order, if they were not written in it.
    private func sortMembers(of container: Container) {
        let first = container.firstMember
        let count = keys.count - first
        guard count > 1 else { return }
        var inOrder = true
        for index in first + 1..<keys.count where !Self.precedes(keys[index - 1], keys[index]) {
            inOrder = false
            break
        }
        if inOrder { return }
        let end = bytes.count
        let written = Array(bytes[container.start..<end])
        // A member runs to the comma before the next one, the last to the end. Of members with
        // one key (byte for byte, as the order is), the last written stays.
        func same(_ a: Int, _ b: Int) -> Bool { keys[a].utf8.elementsEqual(keys[b].utf8) }
        var order = (first..<keys.count).sorted { Self.precedes(keys[$0], keys[$1]) || (same($0, $1) && $0 < $1) }
        order = order.indices.filter { $0 + 1 == order.count || !same(order[$0], order[$0 + 1]) }.map { order[$0] }
        bytes.removeSubrange(container.start..<end)
        for (position, member) in order.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            let memberEnd = member + 1 < keys.count ? memberStarts[member + 1] - 1 : end
            bytes.append(contentsOf: written[(memberStarts[member] - container.start)..<(memberEnd - container.start)])
        }
    }

    /// UTF-8 byte order, as Foundation sorts keys.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { a in
            b.withUTF8 { b in
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
                return order != 0 ? order < 0 : a.count < b.count
            }
        }
    }

    // MARK: values

    func encodeValue<T: Encodable>(_ value: T) throws {
        // Foundation's own types, encoded as Foundation's encoder does; the rest by their `encode(to:)`.
        // The type is known equal, so the bits are the value: no dynamic cast.
        if T.self == String.self {
            writeString(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            writeInteger(unsafeBitCast(value, to: Int.self))
        } else if T.self == Bool.self {
            writeBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Double.self {
            try writeFloatingPoint(unsafeBitCast(value, to: Double.self))
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
            // A value that wrote nothing is an empty object, as Foundation writes it (at the top,
            // where Foundation throws, `encode` does).
            if bytes.count == start && start > 0 { bytes.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")]) }
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

    func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        JSONString.appendEscaped(text, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}

/// The inside of a JSON string: what the streaming encoder writes, and what templates that
/// produce JSON escape their values with (one escaper for both).
public enum JSONString {
    /// `text` escaped for the inside of a JSON string.
    public static func escaped(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        appendEscaped(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0, to: &bytes) }) == nil {
            appendEscaped(Array(text.utf8), to: &bytes)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Copies runs that need no escape at once; escapes quotes, backslashes and control bytes.
    private static func appendEscaped(_ utf8: some RandomAccessCollection<UInt8>, to bytes: inout [UInt8]) {
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
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
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
    /// A `superEncoder()`'s slot, which must still be open when the encoder is written to.
    var slot: (index: Int, id: Int)? = nil
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(StreamingKeyedContainer(output: output, place: place(.object)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamingUnkeyedContainer(output: output, place: place(.array))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        StreamingSingleValueContainer(output: output, slot: slot)
    }

    /// The value's container: the one already open at its depth if it is of the kind asked for
    /// (a subclass and its superclass share one object), else a new one.
    private func place(_ kind: JSONOutput.Kind) -> (index: Int, id: Int) {
        // Its slot closed (the parent was written to since): the failure is kept, the write goes nowhere useful.
        if let slot, !output.isOpen(slot.index, slot.id) { return output.open(kind) }
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
    func encode(_ value: Int128, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt8, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt16, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt32, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt64, forKey key: Key) throws { try integer(value, key) }
    func encode(_ value: UInt128, forKey key: Key) throws { try integer(value, key) }

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
        let slot = output.open(.slot)
        return StreamingEncoder(output: output, depth: output.open.count, slot: slot)
    }
}

/// What the unkeyed and single-value containers share: a value is a `begin()` (a comma, or the
/// check that the slot is open) and its write.
protocol StreamingValueWriter {
    var output: JSONOutput { get }
    func begin() throws
}

extension StreamingValueWriter {
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

    func integer(_ value: some BinaryInteger) throws {
        try begin()
        output.writeInteger(value)
    }

    func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try output.encodeValue(value)
    }
}

struct StreamingUnkeyedContainer: UnkeyedEncodingContainer, StreamingValueWriter {
    let output: JSONOutput
    let place: (index: Int, id: Int)
    var codingPath: [any CodingKey] { [] }
    var count: Int { place.index < output.open.count && output.open[place.index].id == place.id ? output.open[place.index].count : 0 }

    func begin() throws {
        try output.beginElement(of: place.index, id: place.id)
    }

    // The standard library's own defaults for these (which throw) would make the shared ones ambiguous.
    func encode(_ value: Int128) throws { try integer(value) }
    func encode(_ value: UInt128) throws { try integer(value) }

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
        let slot = output.open(.slot)
        return StreamingEncoder(output: output, depth: output.open.count, slot: slot)
    }
}

struct StreamingSingleValueContainer: SingleValueEncodingContainer, StreamingValueWriter {
    let output: JSONOutput
    var slot: (index: Int, id: Int)?
    var codingPath: [any CodingKey] { [] }

    /// A `superEncoder()`'s value is written only while its slot is open.
    func begin() throws {
        if let slot, !output.isOpen(slot.index, slot.id) { throw JSONOutput.outOfOrder }
    }

    // The standard library's own defaults for these (which throw) would make the shared ones ambiguous.
    func encode(_ value: Int128) throws { try integer(value) }
    func encode(_ value: UInt128) throws { try integer(value) }
}
