"""Print the distributions installed in this interpreter's own site-packages as JSON.

Each entry has the name, the version, and the sha256 of the distribution's
RECORD (which lists every installed file with its own hash), so an SBOM can
commit to exactly what is installed, whichever installer put it there.
"""
import hashlib
import json
import os
import sys
import sysconfig

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python < 3.8
    sys.exit("pydepot needs Python 3.8 or newer")

# A site-packages folder to read instead of this interpreter's own: an
# environment of another OS, read by the build agent's CPython of its version.
purelib = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else sysconfig.get_paths()["purelib"])
found = {}
for dist in metadata.distributions(path=[purelib]):
    name = dist.metadata["Name"]
    if not name:
        continue
    entry = {"name": name, "version": dist.version}
    record = dist.read_text("RECORD")
    if record is not None:
        entry["recordSha256"] = hashlib.sha256(record.encode("utf-8")).hexdigest()
    found[name.lower()] = entry
print(json.dumps(sorted(found.values(), key=lambda d: d["name"].lower())))
