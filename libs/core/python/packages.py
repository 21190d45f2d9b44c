"""Print the distributions installed in this interpreter's own site-packages as JSON."""
import json
import os
import sys
import sysconfig

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python < 3.8
    sys.exit("pydepot needs Python 3.8 or newer")

purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
found = {}
for dist in metadata.distributions(path=[purelib]):
    name = dist.metadata["Name"]
    if name:
        found[name.lower()] = {"name": name, "version": dist.version}
print(json.dumps(sorted(found.values(), key=lambda d: d["name"].lower())))
