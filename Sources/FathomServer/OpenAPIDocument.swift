/// The service's API as an OpenAPI 3.0 document, served at `/openapi.json` and checked by the
/// tests against what the server answers.
public enum OpenAPIDocument {
    public static let json = #"""
        {
          "openapi": "3.0.3",
          "info": {
            "title": "fathom",
            "version": "1",
            "description": "The fathom scan service: registry webhook, scan requests, reports, scan histories and the job queue. Every /v1 and /api/v1 request needs a bearer token (POST /v1/events the webhook's). Harbor's pluggable scanner adapter API is served under /api/v1 as goharbor/pluggable-scanner-spec describes it."
          },
          "servers": [{"url": "/"}],
          "security": [{"bearer": []}],
          "paths": {
            "/healthz": {"get": {"summary": "The process is up.", "security": [], "responses": {"200": {"$ref": "#/components/responses/Status"}}},
              "head": {"summary": "The process is up (the status alone, for load balancers' checks).", "security": [], "responses": {"200": {"description": "Up"}}}},
            "/readyz": {"get": {"summary": "The store answers (within 0.5 s; the answer is kept for half a second) and its migrations are applied.", "security": [],
              "responses": {"200": {"$ref": "#/components/responses/Status"}, "503": {"$ref": "#/components/responses/Error"}}},
              "head": {"summary": "As GET, the status alone.", "security": [], "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "security": [],
              "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document.", "security": [],
              "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/v1/events": {"post": {
              "summary": "A registry's notifications: the CNCF distribution envelope, or Harbor's webhook payload. A manifest push queues a scan; a deleted manifest or tag (Harbor: DELETE_ARTIFACT) takes its images out of the fleet; events are recorded once per event id.",
              "requestBody": {"required": true, "content": {
                "application/vnd.docker.distribution.events.v1+json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
                "application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Envelope"}, {"$ref": "#/components/schemas/HarborPayload"}]}}}},
              "responses": {
                "202": {"description": "Recorded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventsAccepted"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"}}}},
            "/v1/scans": {"post": {
              "summary": "Queue a scan of an image (one pending job per image): a registry image, or with serve --allow-local-sources DIR an OCI layout (oci:PATH[:tag]) or archive (oci-archive:FILE[:tag]) under DIR, reported by its path under DIR and tag.",
              "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["image"], "additionalProperties": false,
                "properties": {"image": {"type": "string", "maxLength": 4096, "example": "registry.example:5000/team/app:1.2",
                  "description": "host/repository[:tag][@digest], the distribution reference grammar",
                  "pattern": "^(?:(?:localhost(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?:(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*|[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+|[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?::[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"},
                  "policy": {"type": "object", "nullable": true, "additionalProperties": false, "description": "This image's own policy, joined to the service's and kept for its rescans (a member it does not name is refused).", "properties": {
                    "severity": {"type": "array", "nullable": true, "minItems": 1, "items": {"type": "string", "enum": ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]}},
                    "ignoreUnfixed": {"type": "boolean", "nullable": true},
                    "ignoreStatus": {"type": "array", "nullable": true, "description": "Vendor statuses left out, as --ignore-status", "items": {"type": "string", "enum": ["fixed", "affected", "will_not_fix", "fix_deferred", "end_of_life", "under_investigation"]}},
                    "includeUnimportant": {"type": "boolean", "nullable": true},
                    "includeKernel": {"type": "boolean", "nullable": true},
                    "kevOnly": {"type": "boolean", "nullable": true},
                    "epssThreshold": {"type": "number", "nullable": true, "minimum": 0, "maximum": 1},
                    "ignore": {"type": "array", "nullable": true, "description": "Ignore rules, as the ignore file's lines say them", "items": {
                      "type": "object", "required": ["id"], "properties": {
                        "id": {"type": "string", "pattern": "^\\S+$"}, "package": {"type": "string", "nullable": true, "pattern": "^\\S+$"},
                        "expires": {"type": "string", "nullable": true, "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}}},
                    "vex": {"type": "array", "nullable": true, "description": "VEX statements in OpenVEX's shape (products: purls, or the image as pkg:oci/… or [host/]repository:tag)", "items": {
                      "type": "object", "required": ["vulnerability", "status", "products"], "properties": {
                        "vulnerability": {"type": "string", "pattern": "^\\S+$"},
                        "status": {"type": "string", "enum": ["not_affected", "fixed", "affected", "under_investigation"]},
                        "products": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        "subcomponents": {"type": "array", "nullable": true, "items": {"type": "string"}},
                        "justification": {"type": "string", "nullable": true}}}},
                    "skipDirs": {"type": "array", "nullable": true, "items": {"type": "string"}},
                    "skipFiles": {"type": "array", "nullable": true, "items": {"type": "string"}}}}}}}}},
              "responses": {
                "202": {"description": "Queued", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScanAccepted"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                "403": {"description": "The image's registry is not one the service's --registry names.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "413": {"$ref": "#/components/responses/Error"}}}},
            "/v1/rescans": {"post": {
              "summary": "Re-match now the stored images in the rescan window that were not matched against the current advisory data (the job the scheduler queues after every change).",
              "responses": {
                "202": {"description": "Queued", "content": {"application/json": {"schema": {"type": "object", "required": ["job", "queued"],
                  "properties": {"job": {"type": "integer", "format": "int64"}, "queued": {"type": "boolean"}}}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}}},
            "/v1/images": {"get": {
              "summary": "Every image with a report, in name order, a page at a time, filtered by repository, registry, severity and a search of names, packages and vulnerability ids.",
              "parameters": [
                {"name": "repository", "in": "query", "description": "The repository path, exactly (fleet/base); written with its registry (localhost:5000/fleet/base) it is that registry's.", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
                {"name": "registry", "in": "query", "description": "A registry, HOST[:PORT]; the host alone is that host at any port", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
                {"name": "severity", "in": "query", "description": "Comma-separated: images with a finding of one of these (empty: any; lower case is taken too)",
                  "schema": {"type": "string", "pattern": "^((UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL|unknown|low|medium|high|critical)(,(UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL|unknown|low|medium|high|critical))*)?$"}},
                {"name": "q", "in": "query", "description": "A part of the image's name or of a package's name, or a vulnerability id or alias", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                {"$ref": "#/components/parameters/ImagesCursor"}],
              "responses": {
                "200": {"description": "A page of images", "headers": {"Link": {"$ref": "#/components/headers/Link"}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Images"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"}}}},
            "/v1/images/{repository}/{reference}": {"get": {
              "summary": "The newest report of a tag or digest (the document of fathom scan --format json), or the job while it is queued or running.",
              "parameters": [{"$ref": "#/components/parameters/Repository"}, {"$ref": "#/components/parameters/Reference"}, {"$ref": "#/components/parameters/Registry"}],
              "responses": {
                "200": {"description": "The report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
                  "headers": {
                    "Fathom-Matched-Against": {"description": "The advisory data version the report's findings were matched against.", "schema": {"type": "string"}},
                    "Fathom-Advisory-Data": {"description": "The current advisory data version.", "schema": {"type": "string"}},
                    "Fathom-Rescan": {"description": "When the two differ: pending (pushed or pulled within the rescan window) or outside-window (left as it is until pushed or pulled again).",
                      "schema": {"type": "string", "enum": ["pending", "outside-window"]}},
                    "Fathom-Last-Scan-Failed": {"description": "When the image's newest scan job (a push, a moved tag) failed for good, so that this report is of the image before: the job's id and last error.",
                      "schema": {"type": "string"}}}},
                "202": {"description": "Queued or running", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
                "422": {"description": "The last scan failed for good: the error, with the job in error.job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}},
              "delete": {
              "summary": "Takes the image out of the fleet, as the registry's delete event does: its report, its findings and its place in every count; a digest is every name of the repository whose report is of it. The scan history stays and the registry is not touched.",
              "parameters": [{"$ref": "#/components/parameters/Repository"}, {"$ref": "#/components/parameters/Reference"}, {"$ref": "#/components/parameters/Registry"}],
              "responses": {
                "200": {"description": "Removed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImagesRemoved"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}},
            "/v1/images/{repository}/{reference}/scans": {"get": {
              "summary": "Every scan of the image at that tag or digest, newest first, a page at a time.",
              "parameters": [{"$ref": "#/components/parameters/Repository"}, {"$ref": "#/components/parameters/Reference"}, {"$ref": "#/components/parameters/Registry"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}, {"$ref": "#/components/parameters/ScansCursor"}],
              "responses": {
                "200": {"description": "The history", "headers": {"Link": {"$ref": "#/components/headers/Link"}},
                  "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ScanSummary"}}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}},
            "/v1/findings": {"get": {
              "summary": "Which images are affected: every finding of the newest reports matching a vulnerability id (or alias), severities and fixability.",
              "parameters": [
                {"name": "id", "in": "query", "description": "One vulnerability id or alias", "schema": {"type": "string", "minLength": 1, "pattern": "^[^,\\u0000-\\u001f\\u007f-\\u009f]*$"}, "example": "CVE-2019-14697"},
                {"name": "severity", "in": "query", "description": "Comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN (lower case is taken too)",
                  "schema": {"type": "string", "pattern": "^((UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL|unknown|low|medium|high|critical)(,(UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL|unknown|low|medium|high|critical))*)?$"}},
                {"name": "fixable", "in": "query", "schema": {"type": "boolean"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}},
                {"$ref": "#/components/parameters/FindingsCursor"}],
              "responses": {
                "200": {"description": "Affected images: one page of findings, the counts of the whole fleet", "headers": {"Link": {"$ref": "#/components/headers/Link"}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Findings"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"}}}},
            "/v1/fleet/summary": {"get": {
              "summary": "The fleet summary of fathom registry over the newest report of every image: findings per severity, the most widespread vulnerabilities, the images most at risk.",
              "responses": {
                "200": {"description": "The summary", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FleetSummary"}}}},
                "401": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
            "/v1/jobs": {"get": {
              "summary": "Jobs, newest first, a page at a time.",
              "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["queued", "running", "done", "dead"]}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                {"$ref": "#/components/parameters/JobsCursor"}],
              "responses": {
                "200": {"description": "Jobs", "headers": {"Link": {"$ref": "#/components/headers/Link"}}, "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}}},
            "/v1/jobs/summary": {"get": {
              "summary": "Jobs per state.",
              "responses": {
                "200": {"description": "Counts", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobSummary"}}}},
                "401": {"$ref": "#/components/responses/Error"}}}},
            "/v1/jobs/{id}": {"get": {
              "summary": "One job.",
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64"}}],
              "responses": {
                "200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}}
          },
          "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "headers": {
              "Link": {"description": "RFC 8288, rel next: the same request with the cursor of the next page; absent on the last page.", "schema": {"type": "string"}}},
            "parameters": {
              "ImagesCursor": {"name": "cursor", "in": "query", "required": false, "description": "The cursor of the previous page's Link or next (none or empty: the first page): a keyset position, taken as given.", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
              "JobsCursor": {"name": "cursor", "in": "query", "required": false, "description": "The cursor of the previous page's Link (none or empty: the first page).", "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"}},
              "FindingsCursor": {"name": "cursor", "in": "query", "required": false, "description": "The cursor of the previous page's Link or next (none or empty: the first page).", "schema": {"type": "string", "pattern": "^([0-9]{1,9}:[^\\u0000-\\u001f\\u007f-\\u009f]*)?$"}},
              "ScansCursor": {"name": "cursor", "in": "query", "required": false, "description": "The cursor of the previous page's Link (none or empty: the first page).", "schema": {"type": "string", "pattern": "^([0-9]{1,15}:[^\\u0000-\\u001f\\u007f-\\u009f]*)?$"}},
              "Repository": {"name": "repository", "in": "path", "required": true, "description": "The repository path (its slashes percent-encoded, or as further path segments).", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
              "Reference": {"name": "reference", "in": "path", "required": true, "description": "A tag or a manifest digest.", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}},
              "Registry": {"name": "registry", "in": "query", "required": false, "description": "The registry, HOST[:PORT] (the host alone is that host at any port): needed when several registries hold the repository and reference (409 lists them).", "schema": {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}}
            },
            "responses": {
              "Status": {"description": "Status", "content": {"application/json": {"schema": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}},
              "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "schemas": {
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message"], "properties": {
                "message": {"type": "string"}, "registries": {"type": "array", "items": {"type": "string"}}, "job": {"$ref": "#/components/schemas/Job"}}}}},
              "Envelope": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "items": {"type": "object"}}}},
              "HarborPayload": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "occur_at": {"type": "integer"}, "event_data": {"type": "object"}}},
              "EventsAccepted": {"type": "object", "required": ["events", "new", "jobs", "removed"], "properties": {
                "events": {"type": "integer"}, "new": {"type": "integer"}, "jobs": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                "removed": {"type": "array", "items": {"type": "string"}}}},
              "ImagesRemoved": {"type": "object", "required": ["removed"], "properties": {"removed": {"type": "array", "items": {"type": "string"}}}},
              "ScanAccepted": {"type": "object", "required": ["job", "queued", "image"], "properties": {
                "job": {"type": "integer", "format": "int64"}, "queued": {"type": "boolean"}, "image": {"type": "string"}}},
              "Job": {"type": "object", "required": ["id", "kind", "image", "state", "attempts", "createdAt", "updatedAt"], "properties": {
                "id": {"type": "integer", "format": "int64"}, "kind": {"type": "string", "enum": ["scan", "rescan", "update"]}, "image": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "running", "done", "dead"]}, "attempts": {"type": "integer"}, "worker": {"type": "string"},
                "lastError": {"type": "string"}, "createdAt": {"type": "string", "format": "date-time"}, "updatedAt": {"type": "string", "format": "date-time"}}},
              "JobSummary": {"type": "object", "required": ["queued", "running", "done", "dead"], "properties": {
                "queued": {"type": "integer"}, "running": {"type": "integer"}, "done": {"type": "integer"}, "dead": {"type": "integer"}}},
              "ScanSummary": {"type": "object", "required": ["name", "scannedAt", "advisoryVersion", "findings", "bySeverity", "new", "resolved"], "properties": {
                "name": {"type": "string"}, "manifestDigest": {"type": "string"}, "scannedAt": {"type": "string", "format": "date-time"},
                "advisoryVersion": {"type": "string", "description": "The newest advisory data these findings hold for: a rescan that finds them unchanged moves it forward, not scannedAt (when the image was read)."}, "findings": {"type": "integer"},
                "bySeverity": {"type": "object", "additionalProperties": {"type": "integer"}}, "new": {"type": "integer"}, "resolved": {"type": "integer"}}},
              "Images": {"type": "object", "required": ["images"], "properties": {
                "next": {"type": "string", "description": "The cursor of the next page; absent on the last."},
                "images": {"type": "array", "items": {"type": "object", "required": ["image", "findings", "bySeverity", "fixable", "exploited"], "properties": {
                  "image": {"type": "string"}, "registry": {"type": "string"}, "repository": {"type": "string"}, "tag": {"type": "string"},
                  "manifestDigest": {"type": "string"}, "os": {"type": "string"}, "findings": {"type": "integer"},
                  "bySeverity": {"type": "object", "additionalProperties": {"type": "integer"}}, "fixable": {"type": "integer"},
                  "exploited": {"type": "integer", "description": "Findings in CISA's Known Exploited Vulnerabilities catalog."},
                  "notChecked": {"type": "array", "items": {"type": "string"}, "description": "What the image's packages were not checked against (no advisory data for its release, its OS not identified, …); absent when every package was checked: its zeros prove nothing."},
                  "matchedAgainst": {"type": "string", "description": "The advisory data version the image's findings were matched against."},
                  "policyLeftFindingsOut": {"type": "boolean", "description": "Present (true) when a policy left findings of the image's packages out of its report (its scan request's own, the service's filters, ignore rules or VEX): its counts are not all it holds."},
                  "upToDate": {"type": "boolean", "description": "Whether matchedAgainst is the store's advisory data version now: false for an image no rescan has reached since the advisories changed (outside the rescan window, or still pending), whose findings may be out of date."}}}}}},
              "Findings": {"type": "object", "required": ["count", "images", "truncated", "findings"], "properties": {
                "count": {"type": "integer"}, "images": {"type": "integer"}, "truncated": {"type": "boolean"},
                "next": {"type": "string", "description": "The cursor of the next page; absent on the last."},
                "findings": {"type": "array", "items": {"type": "object",
                  "required": ["image", "id", "aliases", "package", "installedVersion", "severity", "status"], "properties": {
                  "image": {"type": "string"}, "manifestDigest": {"type": "string"}, "id": {"type": "string"},
                  "aliases": {"type": "array", "items": {"type": "string"}}, "package": {"type": "string"},
                  "installedVersion": {"type": "string"}, "fixedVersion": {"type": "string"}, "severity": {"type": "string"},
                  "status": {"type": "string"}}}}}},
              "FleetSummary": {"type": "object", "required": ["source", "advisoryVersion", "images", "findings", "mostWidespread", "mostAtRisk"], "properties": {
                "source": {"type": "string"}, "advisoryVersion": {"type": "string"}, "images": {"type": "object"}, "layers": {"type": "object"},
                "bytes": {"type": "object"}, "findings": {"type": "object", "additionalProperties": {"type": "integer"}},
                "mostWidespread": {"type": "array", "items": {"type": "object"}}, "mostAtRisk": {"type": "array", "items": {"type": "object"}},
                "bases": {"type": "array", "items": {"$ref": "#/components/schemas/FleetBase"}},
                "exploitedInTheWild": {"type": "array", "description": "CISA KEV findings and the images that carry them", "items": {"type": "object"}},
                "imagesWithExploited": {"type": "integer"},
                "endOfSupport": {"type": "array", "description": "releases past their end of support, with the images on each", "items": {"type": "object",
                  "required": ["release", "ended", "images"], "properties": {"release": {"type": "string"}, "ended": {"type": "string", "format": "date"},
                  "images": {"type": "integer"}}}}}},
              "FleetBase": {"type": "object", "required": ["layers", "topLayer", "images", "builtOn", "findings", "bySeverity"], "properties": {
                "name": {"type": "string", "description": "The tag whose image is exactly this layer prefix"},
                "layers": {"type": "integer"}, "topLayer": {"type": "string"}, "images": {"type": "integer", "description": "Images built on it that carry one or more of its findings"},
                "builtOn": {"type": "integer", "description": "Images built on it"},
                "findings": {"type": "integer"}, "bySeverity": {"type": "object", "additionalProperties": {"type": "integer"}},
                "rebuild": {"type": "object", "required": ["on", "removes", "images", "advice"], "properties": {
                  "on": {"type": "string"}, "removes": {"type": "integer", "description": "Findings of the base the image to rebuild on does not have"},
                  "images": {"type": "integer", "description": "Images built on the base that carry one or more of its findings (the base's images)"},
                  "endOfSupport": {"type": "string", "format": "date", "description": "The day the image to rebuild on reached its end of support, when it has: advised only when no supported newer tag removes any"},
                  "advice": {"type": "string"}}}}},
              "Report": {"type": "object", "required": ["schemaVersion", "artifact", "vulnerabilities", "summary"], "properties": {
                "schemaVersion": {"type": "integer"}, "artifact": {"type": "object"}, "os": {"type": "object"}, "layers": {"type": "array"},
                "packages": {"type": "array"}, "vulnerabilities": {"type": "array"}, "summary": {"type": "object"}}}
            }
          }
        }
        """#
}
