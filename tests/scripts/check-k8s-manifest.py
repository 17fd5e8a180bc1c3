#!/usr/bin/python3
"""Validate SeccompProfile manifests the way `kubectl apply --validate=strict` does.

Usage: check-k8s-manifest.py SCHEMA.json MANIFEST.yaml...

SCHEMA.json is the CRD version's openAPIV3Schema (tests/schemas/README.md says where it comes
from). Strict mode: every object schema that lists `properties` and has no
`x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false`, so an unknown field is
an error, as the API server's field validation makes it, instead of being pruned. `metadata` is
ObjectMeta, which the CRD leaves to the API server: here only `name` may be set, and it must be a
DNS-1123 subdomain. Also checked: apiVersion and kind. Prints every problem and exits 1 if any;
exit 0 and one `ok` line per manifest otherwise.
"""

import json
import re
import sys

import jsonschema
import yaml

API_VERSION = "security-profiles-operator.x-k8s.io/v1"
KIND = "SeccompProfile"
# k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain.
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def strict(schema):
    """The schema with unknown fields refused wherever the CRD does not preserve them."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def problems(schema, path):
    with open(path, encoding="utf-8") as file:
        manifest = yaml.safe_load(file)
    found = []
    if not isinstance(manifest, dict):
        return [f"{path}: not a mapping"]
    if manifest.get("apiVersion") != API_VERSION:
        found.append(f"{path}: apiVersion {manifest.get('apiVersion')!r}, want {API_VERSION!r}")
    if manifest.get("kind") != KIND:
        found.append(f"{path}: kind {manifest.get('kind')!r}, want {KIND!r}")
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict) or set(metadata) != {"name"}:
        found.append(f"{path}: metadata must hold exactly `name`, got {metadata!r}")
    else:
        name = metadata["name"]
        if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            found.append(f"{path}: metadata.name {name!r} is not a DNS-1123 subdomain")
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.path)):
        where = ".".join(str(part) for part in error.path) or "(top level)"
        found.append(f"{path}: {where}: {error.message}")
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as file:
        schema = strict(json.load(file))
    found = []
    for path in sys.argv[2:]:
        mine = problems(schema, path)
        found.extend(mine)
        if not mine:
            print(f"{path}: ok")
    for problem in found:
        print(problem)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
