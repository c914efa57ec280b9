#!/usr/bin/env python3
"""Validates custom resources against their CustomResourceDefinition's OpenAPI schema, strictly:
the schema's own constraints (jsonschema) and no field the schema does not name (what
`kubectl apply --validate=strict` refuses).

    validate-custom-resource.py CRD.yaml RESOURCE.yaml...

Prints one "valid: KIND NAME" line per resource; exits 1 with the problems otherwise."""
import sys

import jsonschema
import yaml


def unknown_fields(value, schema, path):
    """The paths of fields in `value` that `schema` does not name."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                found += unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(item, extra, f"{path}.{key}")
            elif properties is not None:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


def main():
    crd = yaml.safe_load(open(sys.argv[1]))
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    versions = {f"{group}/{v['name']}": v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v.get("served")}
    problems = []
    for path in sys.argv[2:]:
        for resource in yaml.safe_load_all(open(path)):
            if resource is None:
                continue
            name = f"{path}: {resource.get('kind')} {resource.get('metadata', {}).get('name')}"
            if resource.get("kind") != kind or resource.get("apiVersion") not in versions:
                problems.append(f"{name}: not a {kind} of {', '.join(versions)}")
                continue
            schema = versions[resource["apiVersion"]]
            errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(resource)]
            errors += [f"{field}: not a field of {kind}" for field in unknown_fields(resource, schema, "")]
            if errors:
                problems += [f"{name}: {error}" for error in errors]
            else:
                print(f"valid: {kind} {resource['metadata']['name']}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


main()
