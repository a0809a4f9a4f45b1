#!/usr/bin/env python3
"""Names the nodes a ballast dispatch asks for: the pipeline's own names, kept stable.

Input: the names the pipeline has now (Terraform's `node_names` output), and ballast's
client_payload (`desired`, `remove`). Output (stdout): the JSON list of names Terraform's
name-keyed `for_each` must converge on.

- Every node named in `remove` goes (ballast drained it). A name ballast gave a VM that
  never joined (a provision timeout) is not one of ours: nothing to match, skipped.
- New nodes take the lowest free `<prefix>-N`, so a removed node's name is reused.
- Beyond `desired` (a VM that never joined, which ballast knows only by its own request
  name), the newest names go: never a node ballast did not drain unless the group is over
  its size.

Usage: next_nodes.py --prefix talent-mesh-node --current '["talent-mesh-node-1"]'
                     --payload '{"desired": 2, "remove": []}'
"""
import argparse
import json
import re
import sys


def next_nodes(prefix, current, desired, remove):
    if not isinstance(desired, int) or desired < 0:
        raise ValueError(f"client_payload.desired must be a whole number ≥ 0, got {desired!r}")
    if not isinstance(remove, list) or not all(isinstance(name, str) for name in remove):
        raise ValueError(f"client_payload.remove must be a list of node names, got {remove!r}")
    pattern = re.compile(re.escape(prefix) + r"-(\d+)$")

    def index(name):
        match = pattern.match(name)
        return int(match.group(1)) if match else -1

    keep = sorted((name for name in current if name not in set(remove)), key=index)
    while len(keep) > desired:
        keep.pop()  # the newest first
    used = {index(name) for name in keep}
    n = 1
    while len(keep) < desired:
        if n not in used:
            keep.append(f"{prefix}-{n}")
        n += 1
    return sorted(keep, key=index)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--current", default="[]", help="JSON list of the node names the pipeline has now")
    parser.add_argument("--payload", required=True, help="ballast's client_payload, as JSON")
    args = parser.parse_args()
    try:
        payload = json.loads(args.payload)
        current = json.loads(args.current) or []
        names = next_nodes(args.prefix, current, payload.get("desired"), payload.get("remove", []))
    except (ValueError, AttributeError) as error:
        print(f"next_nodes: {error}", file=sys.stderr)
        return 2
    print(json.dumps(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
