import FathomCore
public import Foundation

extension RegistryEvent {
    /// The events of `decode(_:file:)`.
    public static func decode(_ bytes: [UInt8], file: String) throws -> [RegistryEvent] {
        try read(bytes, file: file, receivedAt: nil).events
    }

    /// Reads the CNCF registry's notification envelopes (`{"events": [...]}`), one per file or
    /// one per line as a webhook log keeps them, or a bare array of events. Events of actions
    /// fathom does not keep are skipped, and so are the pulls fathom itself made (its
    /// `User-Agent`) while scanning. An event without a repository, with a digest that does not
    /// parse, or without a readable timestamp when no `receivedAt` stands in for it, is
    /// `unreadable`: named there (by its id, or its place), for the caller to say.
    public static func read(_ bytes: [UInt8], file: String, receivedAt: Date?) throws -> (events: [RegistryEvent], unreadable: [String]) {
        struct Envelope: Decodable { var events: [Event] }
        struct Event: Decodable {
            struct Target: Decodable {
                var mediaType: String?
                var digest: String?
                var repository: String?
                var tag: String?
            }
            struct Request: Decodable {
                var host: String?
                var useragent: String?
            }
            var id: String?
            var timestamp: String?
            var action: String?
            var target: Target?
            var request: Request?
        }
        let decoder = JSONDecoder()
        var events: [Event] = []
        let data = Data(bytes)
        if let envelope = try? decoder.decode(Envelope.self, from: data) {
            events = envelope.events
        } else if let list = try? decoder.decode([Event].self, from: data) {
            events = list
        } else {
            for (number, line) in bytes.split(separator: UInt8(ascii: "\n")).enumerated()
            where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                do {
                    events += try decoder.decode(Envelope.self, from: Data(line)).events
                } catch {
                    throw FathomError(
                        .invalidInput, "line \(number + 1) is not a registry notification envelope", path: file, cause: error)
                }
            }
        }
        var kept: [RegistryEvent] = []
        var unreadable: [String] = []
        for (index, event) in events.enumerated() {
            guard let action = event.action.flatMap(Action.init(rawValue:)) else { continue }
            // fathom's own reads are not pulls by users: counted, every scan would keep its image
            // in the rescan window.
            if action == .pull, event.request?.useragent?.hasPrefix("fathom/") == true { continue }
            let name = "the \(action.rawValue) event " + (event.id.map { "'\($0)'" } ?? "at index \(index)")
            guard let repository = event.target?.repository else {
                unreadable.append("\(name): no target.repository")
                continue
            }
            var digest: Digest?
            if let stated = event.target?.digest {
                do { digest = try Digest(parsing: stated) } catch {
                    unreadable.append("\(name) of \(repository): target.digest '\(stated)' is not a digest")
                    continue
                }
            }
            // A timestamp that does not parse is not replaced by a guess; a missing one, in a
            // delivery, is its time.
            if let stated = event.timestamp, parseTimestamp(stated) == nil {
                unreadable.append("\(name) of \(repository): timestamp '\(stated)' is not RFC 3339")
                continue
            }
            guard let timestamp = event.timestamp.flatMap(parseTimestamp) ?? receivedAt else {
                unreadable.append("\(name) of \(repository): no timestamp")
                continue
            }
            // Without an id, the event is named by what it says: by its own time when it has
            // one, never by its delivery's (a redelivery would be another event).
            let when = event.timestamp == nil ? "" : " \(timestamp.timeIntervalSince1970)"
            let id = event.id ?? "\(action.rawValue) \(repository) \(event.target?.tag ?? "") \(digest?.description ?? "")\(when)"
            kept.append(
                RegistryEvent(
                    id: id, action: action, repository: repository, tag: event.target?.tag, digest: digest,
                    mediaType: event.target?.mediaType, timestamp: timestamp, host: event.request?.host))
        }
        return (kept, unreadable)
    }

    /// RFC 3339 with any number of fractional digits (the registry writes nanoseconds).
    public static func parseTimestamp(_ text: String) -> Date? {
        var trimmed = text
        if let dot = text.firstIndex(of: ".") {
            let fractionEnd = text[text.index(after: dot)...].firstIndex { !$0.isNumber } ?? text.endIndex
            trimmed = String(text[..<dot] + text[fractionEnd...])
        }
        return ISO8601DateFormatter().date(from: trimmed)
    }
}

extension Store {
    /// Takes what a registry at `host` deleted out of the fleet (`removeImages`): a manifest's
    /// digest is every name of the repository whose report is of it (the registry untags them
    /// all), a tag event is its name. The CNCF registry sends both for one `DELETE` of a
    /// manifest, Harbor one event with both (the digest decides); a blob's digest matches no
    /// report. A name pushed again after the delete stays (an old event imported late, or
    /// delivered out of order). Returns the names taken out; acting twice is harmless.
    public func removeDeleted(_ event: RegistryEvent, host: String) async throws -> [String] {
        guard event.action == .delete, let reference = event.digest?.description ?? event.tag else { return [] }
        let prefix = host.lowercased() + "/"
        var names = try await reports(repository: event.repository, reference: reference).map(\.name).filter { $0.lowercased().hasPrefix(prefix) }
        if event.digest == nil, let tag = event.tag { names.append("\(host)/\(event.repository):\(tag)") }
        var gone: [String] = []
        for name in Set(names).sorted() {
            if let tag = Self.tag(of: name), let pushed = try await lastEvent(.push, repository: event.repository, tag: tag, digest: nil),
                pushed > event.timestamp
            {
                continue
            }
            gone.append(name)
        }
        return try await removeImages(gone)
    }

    /// The tag of a stored name (`host/repository:tag`); nil for one by digest.
    static func tag(of name: String) -> String? {
        guard !name.contains("@"), let last = name.split(separator: "/").last, let colon = last.lastIndex(of: ":") else { return nil }
        return String(last[last.index(after: colon)...])
    }
}
