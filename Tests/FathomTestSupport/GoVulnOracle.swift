import Foundation

/// An independent evaluation of the Go vulndb (Python, numeric x.y.z comparison, the OSV walk
/// over SEMVER events): the stdlib advisories that affect one Go version.
public enum GoVulnOracle {
    /// `feedDirectory` holds the extracted `osv/*.json`; `goVersion` is "1.15.2" (no "v", no "go").
    public static func stdlibAdvisories(feedDirectory: String, goVersion: String) async throws -> Set<String> {
        let program = """
            import json, glob, sys
            def v(s): return tuple(int(x) for x in s.split('-')[0].split('.'))
            want = v(sys.argv[2]); hits = set()
            for f in glob.glob(sys.argv[1] + '/osv/*.json'):
                d = json.load(open(f))
                if d.get('withdrawn'): continue
                for a in d.get('affected', []):
                    if a.get('package', {}).get('name') != 'stdlib': continue
                    for r in a.get('ranges', []):
                        if r['type'] != 'SEMVER': continue
                        hit = False
                        for e in r['events']:
                            if 'introduced' in e and (e['introduced'] == '0' or want >= v(e['introduced'])): hit = True
                            elif 'fixed' in e and want >= v(e['fixed']): hit = False
                        if hit: hits.add(d['id'])
            print('\\n'.join(sorted(hits)))
            """
        return Set(try await Tool.run(["python3", "-c", program, feedDirectory, goVersion]).text.split(separator: "\n").map(String.init))
    }
}
