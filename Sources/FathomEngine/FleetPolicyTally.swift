public import FathomAdvisory

/// What a fleet's policy did across its images, summed for `registry` and `rescan` alike: a fleet
/// whose findings `--severity` or `--ignore-unfixed` hides must not read as clean (each image's
/// report says it; the fleet's summary would not), and a rule that suppressed nothing in any image
/// is likely misspelt.
public struct FleetPolicyTally: Sendable {
    /// The ignore rules and VEX statements (by origin) that suppressed a finding in any image.
    public private(set) var usedRules = Set<String>()
    public private(set) var filtered = ScanPolicy.Filtered()
    /// How many images the filters left something out of.
    public private(set) var filteredImages = 0
    /// How many images were matched (an image that failed or was skipped had no policy applied).
    public private(set) var matchedImages = 0

    public init() {}

    public mutating func add(_ outcome: ScanOutcome) {
        guard outcome.verdict != nil else { return }
        matchedImages += 1
        usedRules.formUnion(outcome.usedRules)
        filtered.add(outcome.filtered)
        if outcome.filtered.total > 0 { filteredImages += 1 }
    }

    /// The fleet's warnings: what the filters left out, then the rules that suppressed nothing in
    /// `subject` ("any image"), said only when an image was matched.
    public func warnings(policy: ScanPolicy, of subject: String) -> [String] {
        var warnings: [String] = []
        if let warning = filtered.warning(in: " in \(filteredImages) image\(filteredImages == 1 ? "" : "s")") { warnings.append(warning) }
        if matchedImages > 0, let unused = ScanPolicy.unusedRulesNote(policy.unusedRules(used: usedRules), of: subject) {
            warnings.append(unused)
        }
        return warnings
    }
}
