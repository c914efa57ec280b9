// CVSS v2 base score (https://www.first.org/cvss/v2/guide §3.2.1).

/// CVSS v2 base scores: feeds still carry them for CVEs analysed before 2016.
enum CVSS2 {
    /// The base score of `AV:N/AC:L/Au:N/C:P/I:P/A:P` (a `CVSS:2.0/` prefix or parentheses
    /// allowed, temporal/environmental metrics ignored); nil if it is not a complete v2 vector.
    static func baseScore(_ vector: String) -> Double? {
        var text = Substring(vector)
        if text.hasPrefix("(") && text.hasSuffix(")") { text = text.dropFirst().dropLast() }
        if text.hasPrefix("CVSS:2.0/") { text = text.dropFirst("CVSS:2.0/".count) }
        var metrics: [String: String] = [:]
        for part in text.split(separator: "/") {
            let pair = part.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, metrics.updateValue(String(pair[1]), forKey: String(pair[0])) == nil else { return nil }
        }
        let impactWeights = ["N": 0.0, "P": 0.275, "C": 0.660]
        guard let av = ["L": 0.395, "A": 0.646, "N": 1.0][metrics["AV"] ?? ""],
            let ac = ["H": 0.35, "M": 0.61, "L": 0.71][metrics["AC"] ?? ""],
            let au = ["M": 0.45, "S": 0.56, "N": 0.704][metrics["Au"] ?? ""],
            let c = impactWeights[metrics["C"] ?? ""], let i = impactWeights[metrics["I"] ?? ""],
            let a = impactWeights[metrics["A"] ?? ""]
        else { return nil }
        let impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a))
        let exploitability = 20 * av * ac * au
        let f = impact == 0 ? 0 : 1.176
        return roundHalfUp(max(0, (0.6 * impact + 0.4 * exploitability - 1.5) * f))
    }
}
