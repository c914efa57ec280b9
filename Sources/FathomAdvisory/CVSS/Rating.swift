/// An advisory's severity as its feed gives it: the feed's own word (a distro's rating,
/// Debian's urgency, GHSA's level) or else its own CVSS vectors, with every score it carries.
public struct Rating: Sendable, Hashable {
    public var severity: Severity
    /// The feed the severity came from; nil while it is unknown.
    public var source: String?
    /// Every CVSS score the advisory carries (parsed once, at indexing).
    public var scores: [CVSSScore]

    public init(severity: Severity, source: String?, scores: [CVSSScore]) {
        self.severity = severity
        self.source = source
        self.scores = scores
    }

    /// A Red Hat-family security erratum (AlmaLinux's ALSA, Rocky's RLSA, Oracle's ELSA, Red
    /// Hat's RHSA) rates itself in its synopsis, "Moderate: zlib security update", as Trivy reads
    /// it from the errata; AlmaLinux's OSV records carry no other rating, and a CVSS score from
    /// another feed made the same zlib fix CRITICAL on AlmaLinux and MEDIUM on Rocky.
    static func erratumWord(_ record: OSVRecord) -> Severity? {
        guard ["ALSA-", "RLSA-", "ELSA-", "RHSA-"].contains(where: record.id.hasPrefix), let summary = record.summary,
            let colon = summary.firstIndex(of: ":")
        else { return nil }
        return Severity(feedWord: String(summary[..<colon]))
    }

    /// A USN in Ubuntu's schema 1.7 rates no notice, only each CVE it fixes, by Ubuntu's
    /// priority in the affected package's `cves_map`: the notice is as severe as the worst of
    /// them (USN-6450-1: low, low, low and medium), where a CVSS score borrowed from its
    /// records made it HIGH.
    static func noticeWord(_ affected: OSVRecord.Affected?) -> Severity? {
        guard case .array(let cves)? = affected?.databaseSpecific?["cves_map"]?["cves"] else { return nil }
        return cves.compactMap { cve -> Severity? in
            guard case .array(let entries)? = cve["severity"] else { return nil }
            return entries.lazy.filter { $0["type"]?.string == "Ubuntu" }.compactMap { $0["score"]?.string.flatMap(Severity.init(feedWord:)) }.first
        }.max()
    }

    /// The rating of `record` (and of `affected`, whose own severity comes first) from `source`.
    public init(record: OSVRecord, affected: OSVRecord.Affected? = nil, source: String) {
        let entries = (affected?.severity ?? []) + (record.severity ?? [])
        var scores: [CVSSScore] = []
        for entry in entries where entry.type.hasPrefix("CVSS_V") {
            if let score = CVSSScore(vector: entry.score, source: source), !scores.contains(score) { scores.append(score) }
        }
        self.scores = scores
        let words = entries.filter { !$0.type.hasPrefix("CVSS_V") }.map(\.score) + [
            affected?.ecosystemSpecific?["severity"]?.string, affected?.databaseSpecific?["severity"]?.string,
            affected?.databaseSpecific?["urgency"]?.string, record.databaseSpecific?["severity"]?.string,
        ].compactMap { $0 }
        if let word = words.lazy.compactMap({ Severity(feedWord: $0) }).first ?? Self.erratumWord(record) ?? Self.noticeWord(affected) {
            (severity, self.source) = (word, source)
        } else if let best = scores.min(by: CVSSScore.preferred) {
            (severity, self.source) = (best.severity, source)
        } else {
            (severity, self.source) = (.unknown, nil)
        }
    }
}
