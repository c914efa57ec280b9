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
        do {
            return try MustacheTemplate(string: text)
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
            throw FathomError(.invalidInput, "the template does not parse at line \(error.context.lineNumber), column \(error.context.columnNumber): \(what)", path: path)
        } catch {
            throw FathomError(.invalidInput, "the template does not parse", path: path)
        }
    }
}

extension ScanReport {
    /// The report through `template`: the template sees the JSON document's keys.
    public func rendered(with template: MustacheTemplate) throws -> String {
        template.render(try JSONSerialization.jsonObject(with: Data(try json().utf8)))
    }
}
