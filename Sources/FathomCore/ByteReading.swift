/// Fixed-width unsigned integers read from bytes, bounds-checked: the one reader the binary
/// formats fathom parses (rpm headers and databases, ZIP, ELF) share. Inlinable: called per byte
/// from other modules, it must be specialised there, not dispatched generically.
extension RandomAccessCollection where Element == UInt8, Index == Int {
    /// The `size`-byte integer at `offset` (from the collection's start), or nil past the end.
    @inlinable public func unsignedInteger(at offset: Int, size: Int, bigEndian: Bool) -> UInt64? {
        guard offset >= 0, size > 0, size <= 8, offset + size <= count else { return nil }
        let start = startIndex + offset
        var value: UInt64 = 0
        for index in 0..<size {
            let byte = UInt64(self[bigEndian ? start + index : start + size - 1 - index])
            value = value << 8 | byte
        }
        return value
    }

    @inlinable public func u16(_ offset: Int, bigEndian: Bool) -> UInt16? {
        unsignedInteger(at: offset, size: 2, bigEndian: bigEndian).map { UInt16($0) }
    }

    @inlinable public func u32(_ offset: Int, bigEndian: Bool) -> UInt32? {
        unsignedInteger(at: offset, size: 4, bigEndian: bigEndian).map { UInt32($0) }
    }
}
