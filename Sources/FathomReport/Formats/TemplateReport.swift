import FathomAdvisory
import FathomCore
public import Foundation
public import Mustache

/// `-f template --template FILE`: a user's Mustache template over the JSON document (the same
/// keys `-f json` writes), as Trivy's `--format template` renders its Go templates.
public enum ReportTemplate {
    /// Reads and parses a template (`@FILE`, as Trivy writes it, is taken too).
    public static func load(_ argument: String) throws -> MustacheTemplate {
        let path = argument.hasPrefix("@") ? String(argument.dropFirst()) : argument
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FathomError(.io, "cannot read the template (no such file, or not readable)", path: path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FathomError(.invalidInput, "the template is not UTF-8 text", path: path)
        }
        ReportTemplate.registerJSON
        // The output is text unless the template says otherwise (`{{% CONTENT_TYPE: HTML}}`,
        // or JSON) or is HTML itself: Trivy's templates are Go's text/template, and CSV or
        // JSON written through Mustache's HTML escaping came out with `&amp;` and `&quot;`.
        // The template's own pragma, wherever it stands, switches from there on.
        let prefix = "{{% CONTENT_TYPE: \(Self.looksLikeHTML(text) ? "HTML" : "TEXT")}}"
        do {
            return try MustacheTemplate(string: prefix + text)
        } catch let error as MustacheTemplate.ParserError {
            // Where, and what, in words: the parser's own values are Swift type dumps.
            let what: String
            switch error.error {
            case MustacheTemplate.Error.sectionCloseNameIncorrect: what = "a section is closed with another name than it was opened"
            case MustacheTemplate.Error.unfinishedName: what = "a tag's name is not finished"
            case MustacheTemplate.Error.expectedSectionEnd: what = "a section is opened and never closed"
            case MustacheTemplate.Error.invalidSetDelimiter: what = "a set-delimiter tag is not valid"
            default: what = "the template is not valid Mustache"
            }
            // The pragma put before the first line is not the user's.
            let column = error.context.columnNumber - (error.context.lineNumber == 1 ? prefix.count : 0)
            throw FathomError(.invalidInput, "the template does not parse at line \(error.context.lineNumber), column \(column): \(what)", path: path)
        } catch {
            throw FathomError(.invalidInput, "the template does not parse", path: path)
        }
    }
}

extension ReportTemplate {
    /// Whether a template writes HTML or XML (a tag at the start of a line, or a doctype): its
    /// values are escaped for it, as a page's must be.
    static func looksLikeHTML(_ text: String) -> Bool {
        text.split(whereSeparator: \.isNewline).contains { line in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.first == "<", let next = trimmed.dropFirst().first else { return false }
            return next.isLetter || next == "!" || next == "?" || next == "/"
        }
    }

    /// `{{% CONTENT_TYPE: JSON}}`: values escaped for a JSON string.
    static let registerJSON: Void = MustacheContentTypes.register(JSONStringContent(), named: "JSON")

    struct JSONStringContent: MustacheContentType {
        func escapeText(_ text: String) -> String { JSONString.escaped(text) }
    }

    /// A JSON object the template reads, noting every name it asks for and whether any object
    /// had it: a name no object ever had is a misspelled key (Mustache renders it as nothing).
    final class Lookup: MustacheParent, MustacheTransformable {
        final class Names {
            var asked: [String] = []
            var found: Set<String> = []
        }
        let values: [String: Any]
        let names: Names

        init(_ values: [String: Any], names: Names) {
            self.values = values.mapValues { Lookup.wrap($0, names: names) }
            self.names = names
        }

        static func wrap(_ value: Any, names: Names) -> Any {
            if let object = value as? [String: Any] { return Lookup(object, names: names) }
            if let array = value as? [Any] { return array.map { wrap($0, names: names) } }
            return value
        }

        /// The dictionary's transforms (`count`, `empty`, `enumerated`, `sorted`), as a plain object has them.
        func transform(_ name: String) -> Any? { values.transform(name) }

        func child(named name: String) -> Any? {
            let value = values[name]
            if value != nil {
                names.found.insert(name)
            } else if !names.asked.contains(name) {
                names.asked.append(name)
            }
            return value
        }
    }

    /// Every name the report's types have (their properties, whether set here or not), and the
    /// severities `summary` counts by: a template may ask for one no finding has.
    static func knownNames(_ report: ScanReport) -> Set<String> {
        // Keys of counts that leave out what is zero: severities, vendor statuses.
        var names = Set(Severity.allCases.map(\.rawValue) + Finding.Status.allCases.map(\.rawValue))
        func walk(_ value: Any, depth: Int) {
            guard depth < 8 else { return }
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .collection || mirror.displayStyle == .set {
                // One element tells the type's names.
                if let first = mirror.children.first { walk(first.value, depth: depth + 1) }
                return
            }
            for child in mirror.children {
                if let label = child.label { names.insert(label) }
                walk(child.value, depth: depth + 1)
            }
        }
        walk(report, depth: 0)
        return names
    }
}

extension ScanReport {
    /// The report through `template`: the template sees the JSON document's keys.
    public func rendered(with template: MustacheTemplate) throws -> String {
        try rendering(with: template).text
    }

    /// The report through `template`, and the names the template asked for that no object of
    /// the report had and no type of it has (`{{idd}}`, rendered as nothing).
    public func rendering(with template: MustacheTemplate) throws -> (text: String, unknownNames: [String]) {
        let document = try JSONSerialization.jsonObject(with: Data(try json().utf8))
        let names = ReportTemplate.Lookup.Names()
        let text = template.render(ReportTemplate.Lookup.wrap(document, names: names))
        let missing = names.asked.filter { !names.found.contains($0) }
        guard !missing.isEmpty else { return (text, []) }
        let known = ReportTemplate.knownNames(self)
        return (text, missing.filter { !known.contains($0) })
    }
}
