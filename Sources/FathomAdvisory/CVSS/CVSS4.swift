// CVSS v4.0 base score by the FIRST specification's method
// (https://www.first.org/cvss/v4-0/specification-document §8): the vector's equivalence
// classes (EQ1–EQ6) name a MacroVector whose score the specification's lookup table gives;
// the score is then lowered by how far the vector sits below the MacroVector's most severe
// vectors, relative to the distance to the next lower MacroVectors.

/// CVSS v4.0 scores (base, and with threat/environmental metrics when the vector has them).
enum CVSS4 {
    /// Allowed values of every v4.0 metric; a vector with another metric or value is invalid.
    static let allowed: [String: Set<String>] = [
        "AV": ["N", "A", "L", "P"], "AC": ["L", "H"], "AT": ["N", "P"], "PR": ["N", "L", "H"], "UI": ["N", "P", "A"],
        "VC": ["H", "L", "N"], "VI": ["H", "L", "N"], "VA": ["H", "L", "N"],
        "SC": ["H", "L", "N"], "SI": ["H", "L", "N"], "SA": ["H", "L", "N"],
        "E": ["X", "A", "P", "U"], "CR": ["X", "H", "M", "L"], "IR": ["X", "H", "M", "L"], "AR": ["X", "H", "M", "L"],
        "MAV": ["X", "N", "A", "L", "P"], "MAC": ["X", "L", "H"], "MAT": ["X", "N", "P"], "MPR": ["X", "N", "L", "H"],
        "MUI": ["X", "N", "P", "A"], "MVC": ["X", "H", "L", "N"], "MVI": ["X", "H", "L", "N"], "MVA": ["X", "H", "L", "N"],
        "MSC": ["X", "H", "L", "N"], "MSI": ["X", "S", "H", "L", "N"], "MSA": ["X", "S", "H", "L", "N"],
        "S": ["X", "N", "P"], "AU": ["X", "N", "Y"], "R": ["X", "A", "U", "I"], "V": ["X", "D", "C"],
        "RE": ["X", "L", "M", "H"], "U": ["X", "Clear", "Green", "Amber", "Red"],
    ]
    static let mandatory = ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"]

    /// The score of a `CVSS:4.0/…` vector; nil if it is malformed or misses a base metric.
    static func baseScore(_ vector: String) -> Double? {
        let parts = vector.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.first == "CVSS:4.0", parts.count > 1 else { return nil }
        var metrics: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, let values = allowed[String(pair[0])], values.contains(String(pair[1])),
                metrics.updateValue(String(pair[1]), forKey: String(pair[0])) == nil
            else { return nil }
        }
        guard mandatory.allSatisfy({ metrics[$0] != nil }) else { return nil }
        return score(Metrics(metrics))
    }

    /// The effective value of each metric: a modified (environmental) metric overrides its
    /// base metric, and an absent threat/requirement metric takes its worst case (E:A, xR:H).
    struct Metrics {
        private var values: [String: String]

        init(_ values: [String: String]) { self.values = values }

        subscript(_ metric: String) -> String {
            if let modified = values["M" + metric], modified != "X" { return modified }
            let value = values[metric] ?? "X"
            if value == "X" {
                if metric == "E" { return "A" }
                if metric == "CR" || metric == "IR" || metric == "AR" { return "H" }
            }
            return value
        }
    }

    /// The MacroVector: EQ1 to EQ6 of the specification's Table 24.
    static func macroVector(_ m: Metrics) -> [Int] {
        let (av, pr, ui) = (m["AV"], m["PR"], m["UI"])
        let eq1 = av == "N" && pr == "N" && ui == "N" ? 0 : (av == "N" || pr == "N" || ui == "N") && av != "P" ? 1 : 2
        let eq2 = m["AC"] == "L" && m["AT"] == "N" ? 0 : 1
        let (vc, vi, va) = (m["VC"], m["VI"], m["VA"])
        let eq3 = vc == "H" && vi == "H" ? 0 : vc == "H" || vi == "H" || va == "H" ? 1 : 2
        let eq4 = m["SI"] == "S" || m["SA"] == "S" ? 0 : m["SC"] == "H" || m["SI"] == "H" || m["SA"] == "H" ? 1 : 2
        let eq5 = ["A": 0, "P": 1, "U": 2][m["E"]] ?? 0
        let eq6 = (m["CR"] == "H" && vc == "H") || (m["IR"] == "H" && vi == "H") || (m["AR"] == "H" && va == "H") ? 0 : 1
        return [eq1, eq2, eq3, eq4, eq5, eq6]
    }

    /// How far below the most severe value each metric value is (in steps of 0.1).
    static let levels: [String: [String: Double]] = [
        "AV": ["N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3], "PR": ["N": 0.0, "L": 0.1, "H": 0.2],
        "UI": ["N": 0.0, "P": 0.1, "A": 0.2], "AC": ["L": 0.0, "H": 0.1], "AT": ["N": 0.0, "P": 0.1],
        "VC": ["H": 0.0, "L": 0.1, "N": 0.2], "VI": ["H": 0.0, "L": 0.1, "N": 0.2], "VA": ["H": 0.0, "L": 0.1, "N": 0.2],
        "SC": ["H": 0.1, "L": 0.2, "N": 0.3], "SI": ["S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3],
        "SA": ["S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3],
        "CR": ["H": 0.0, "M": 0.1, "L": 0.2], "IR": ["H": 0.0, "M": 0.1, "L": 0.2], "AR": ["H": 0.0, "M": 0.1, "L": 0.2],
    ]

    /// The most severe vectors of each equivalence class value (the specification's
    /// "highest severity vectors"); EQ3 and EQ6 are ranked jointly.
    static let eq1Maxima = [["AV:N/PR:N/UI:N"], ["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"], ["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"]]
    static let eq2Maxima = [["AC:L/AT:N"], ["AC:H/AT:N", "AC:L/AT:P"]]
    static let eq3eq6Maxima: [[Int]: [String]] = [
        [0, 0]: ["VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"],
        [0, 1]: ["VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"],
        [1, 0]: ["VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"],
        [1, 1]: [
            "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M", "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
            "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H", "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
        ],
        [2, 1]: ["VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"],
    ]
    static let eq4Maxima = [["SC:H/SI:S/SA:S"], ["SC:H/SI:H/SA:H"], ["SC:L/SI:L/SA:L"]]
    /// The depth of each class value, in steps: how far its least severe vector is from its most severe.
    static let eq1Depth = [1.0, 4, 5]
    static let eq2Depth = [1.0, 2]
    static let eq3eq6Depth: [[Int]: Double] = [[0, 0]: 7, [0, 1]: 6, [1, 0]: 8, [1, 1]: 8, [2, 1]: 10]
    static let eq4Depth = [6.0, 5, 4]

    static func score(_ m: Metrics) -> Double {
        if ["VC", "VI", "VA", "SC", "SI", "SA"].allSatisfy({ m[$0] == "N" }) { return 0 }
        let macro = macroVector(m)
        guard let value = lookup(macro) else { return 0 }
        let (eq1, eq2, eq3, eq4, eq6) = (macro[0], macro[1], macro[2], macro[3], macro[5])
        func lowered(_ index: Int, by step: Int = 1) -> [Int] {
            var next = macro
            next[index] += step
            return next
        }
        // The next lower MacroVector of each class (EQ3+EQ6 together); nil where none exists.
        let lowerEQ3EQ6: Double?
        switch (eq3, eq6) {
        case (0, 0):
            let candidates = [lookup(lowered(5)), lookup(lowered(2))].compactMap { $0 }
            lowerEQ3EQ6 = candidates.max()
        case (0, 1), (1, 1): lowerEQ3EQ6 = lookup(lowered(2))
        case (1, 0): lowerEQ3EQ6 = lookup(lowered(5))
        default: lowerEQ3EQ6 = nil
        }
        let lower: [Double?] = [lookup(lowered(0)), lookup(lowered(1)), lowerEQ3EQ6, lookup(lowered(3)), lookup(lowered(4))]

        // The first most severe vector of this MacroVector that the vector does not exceed.
        var distance: [String: Double] = [:]
        search: for a in eq1Maxima[eq1] {
            for b in eq2Maxima[eq2] {
                for c in eq3eq6Maxima[[eq3, eq6]] ?? [] {
                    for d in eq4Maxima[eq4] {
                        var candidate: [String: Double] = [:]
                        for pair in [a, b, c, d].joined(separator: "/").split(separator: "/") {
                            let parts = pair.split(separator: ":")
                            let metric = String(parts[0])
                            candidate[metric] = (levels[metric]?[m[metric]] ?? 0) - (levels[metric]?[String(parts[1])] ?? 0)
                        }
                        distance = candidate
                        if candidate.values.allSatisfy({ $0 >= 0 }) { break search }
                    }
                }
            }
        }
        func sum(_ metrics: [String]) -> Double { metrics.reduce(0) { $0 + (distance[$1] ?? 0) } }
        let current = [
            sum(["AV", "PR", "UI"]), sum(["AC", "AT"]), sum(["VC", "VI", "VA", "CR", "IR", "AR"]), sum(["SC", "SI", "SA"]), 0,
        ]
        let depth = [eq1Depth[eq1], eq2Depth[eq2], eq3eq6Depth[[eq3, eq6]] ?? 1, eq4Depth[eq4], 1].map { $0 * 0.1 }
        var existing = 0
        var normalized = 0.0
        for index in 0..<5 {
            guard let next = lower[index], value - next >= 0 else { continue }
            existing += 1
            normalized += (value - next) * current[index] / depth[index]
        }
        let adjusted = existing == 0 ? value : value - normalized / Double(existing)
        return roundHalfUp(min(10, max(0, adjusted)))
    }

    static func lookup(_ macro: [Int]) -> Double? {
        macroVectorScores[macro.map(String.init).joined()]
    }

    /// The specification's score of each of the 270 MacroVectors (EQ1…EQ6 as six digits), as
    /// FIRST publishes it with CVSS v4.0.
    static let macroVectorScores: [String: Double] = [
        "000000": 10.0, "000001": 9.9, "000010": 9.8, "000011": 9.5, "000020": 9.5, "000021": 9.2, "000100": 10.0, "000101": 9.6, "000110": 9.3,
        "000111": 8.7, "000120": 9.1, "000121": 8.1, "000200": 9.3, "000201": 9.0, "000210": 8.9, "000211": 8.0, "000220": 8.1, "000221": 6.8,
        "001000": 9.8, "001001": 9.5, "001010": 9.5, "001011": 9.2, "001020": 9.0, "001021": 8.4, "001100": 9.3, "001101": 9.2, "001110": 8.9,
        "001111": 8.1, "001120": 8.1, "001121": 6.5, "001200": 8.8, "001201": 8.0, "001210": 7.8, "001211": 7.0, "001220": 6.9, "001221": 4.8,
        "002001": 9.2, "002011": 8.2, "002021": 7.2, "002101": 7.9, "002111": 6.9, "002121": 5.0, "002201": 6.9, "002211": 5.5, "002221": 2.7,
        "010000": 9.9, "010001": 9.7, "010010": 9.5, "010011": 9.2, "010020": 9.2, "010021": 8.5, "010100": 9.5, "010101": 9.1, "010110": 9.0,
        "010111": 8.3, "010120": 8.4, "010121": 7.1, "010200": 9.2, "010201": 8.1, "010210": 8.2, "010211": 7.1, "010220": 7.2, "010221": 5.3,
        "011000": 9.5, "011001": 9.3, "011010": 9.2, "011011": 8.5, "011020": 8.5, "011021": 7.3, "011100": 9.2, "011101": 8.2, "011110": 8.0,
        "011111": 7.2, "011120": 7.0, "011121": 5.9, "011200": 8.4, "011201": 7.0, "011210": 7.1, "011211": 5.2, "011220": 5.0, "011221": 3.0,
        "012001": 8.6, "012011": 7.5, "012021": 5.2, "012101": 7.1, "012111": 5.2, "012121": 2.9, "012201": 6.3, "012211": 2.9, "012221": 1.7,
        "100000": 9.8, "100001": 9.5, "100010": 9.4, "100011": 8.7, "100020": 9.1, "100021": 8.1, "100100": 9.4, "100101": 8.9, "100110": 8.6,
        "100111": 7.4, "100120": 7.7, "100121": 6.4, "100200": 8.7, "100201": 7.5, "100210": 7.4, "100211": 6.3, "100220": 6.3, "100221": 4.9,
        "101000": 9.4, "101001": 8.9, "101010": 8.8, "101011": 7.7, "101020": 7.6, "101021": 6.7, "101100": 8.6, "101101": 7.6, "101110": 7.4,
        "101111": 5.8, "101120": 5.9, "101121": 5.0, "101200": 7.2, "101201": 5.7, "101210": 5.7, "101211": 5.2, "101220": 5.2, "101221": 2.5,
        "102001": 8.3, "102011": 7.0, "102021": 5.4, "102101": 6.5, "102111": 5.8, "102121": 2.6, "102201": 5.3, "102211": 2.1, "102221": 1.3,
        "110000": 9.5, "110001": 9.0, "110010": 8.8, "110011": 7.6, "110020": 7.6, "110021": 7.0, "110100": 9.0, "110101": 7.7, "110110": 7.5,
        "110111": 6.2, "110120": 6.1, "110121": 5.3, "110200": 7.7, "110201": 6.6, "110210": 6.8, "110211": 5.9, "110220": 5.2, "110221": 3.0,
        "111000": 8.9, "111001": 7.8, "111010": 7.6, "111011": 6.7, "111020": 6.2, "111021": 5.8, "111100": 7.4, "111101": 5.9, "111110": 5.7,
        "111111": 5.7, "111120": 4.7, "111121": 2.3, "111200": 6.1, "111201": 5.2, "111210": 5.7, "111211": 2.9, "111220": 2.4, "111221": 1.6,
        "112001": 7.1, "112011": 5.9, "112021": 3.0, "112101": 5.8, "112111": 2.6, "112121": 1.5, "112201": 2.3, "112211": 1.3, "112221": 0.6,
        "200000": 9.3, "200001": 8.7, "200010": 8.6, "200011": 7.2, "200020": 7.5, "200021": 5.8, "200100": 8.6, "200101": 7.4, "200110": 7.4,
        "200111": 6.1, "200120": 5.6, "200121": 3.4, "200200": 7.0, "200201": 5.4, "200210": 5.2, "200211": 4.0, "200220": 4.0, "200221": 2.2,
        "201000": 8.5, "201001": 7.5, "201010": 7.4, "201011": 5.5, "201020": 6.2, "201021": 5.1, "201100": 7.2, "201101": 5.7, "201110": 5.5,
        "201111": 4.1, "201120": 4.6, "201121": 1.9, "201200": 5.3, "201201": 3.6, "201210": 3.4, "201211": 1.9, "201220": 1.9, "201221": 0.8,
        "202001": 6.4, "202011": 5.1, "202021": 2.0, "202101": 4.7, "202111": 2.1, "202121": 1.1, "202201": 2.4, "202211": 0.9, "202221": 0.4,
        "210000": 8.8, "210001": 7.5, "210010": 7.3, "210011": 5.3, "210020": 6.0, "210021": 5.0, "210100": 7.3, "210101": 5.5, "210110": 5.9,
        "210111": 4.0, "210120": 4.1, "210121": 2.0, "210200": 5.4, "210201": 4.3, "210210": 4.5, "210211": 2.2, "210220": 2.0, "210221": 1.1,
        "211000": 7.5, "211001": 5.5, "211010": 5.8, "211011": 4.5, "211020": 4.0, "211021": 2.1, "211100": 6.1, "211101": 5.1, "211110": 4.8,
        "211111": 1.8, "211120": 2.0, "211121": 0.9, "211200": 4.6, "211201": 1.8, "211210": 1.7, "211211": 0.7, "211220": 0.8, "211221": 0.2,
        "212001": 5.3, "212011": 2.4, "212021": 1.4, "212101": 2.4, "212111": 1.2, "212121": 0.5, "212201": 1.0, "212211": 0.3, "212221": 0.1,
    ]
}
