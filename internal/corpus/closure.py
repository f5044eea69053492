# Computes the dependency closure of installed distributions for
# internal/corpus. argv[1] is a JSON list of roots ("name" or
# "name[extra,...]"); prints JSON {"dists": [{"name", "version"}],
# "problems": [...]}.
import json
import sys
from importlib import metadata

try:
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
except ImportError:  # an interpreter without pip
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

installed = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        installed.setdefault(canonicalize_name(name), dist)

problems = []
extras_of = {}  # canonical name -> extras requested so far
queue = []


def want(name, extras, why):
    key = canonicalize_name(name)
    if key not in installed:
        problems.append("%s is not installed (%s)" % (name, why))
        return
    have = extras_of.get(key)
    extras = set(canonicalize_name(e) for e in extras)
    if have is None or not extras <= have:
        extras_of[key] = (have or set()) | extras
        queue.append(key)


for root in json.loads(sys.argv[1]):
    req = Requirement(root)
    want(req.name, req.extras, "requested")

while queue:
    key = queue.pop()
    dist = installed[key]
    active = [""] + sorted(extras_of[key])
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in active):
            continue
        dep = installed.get(canonicalize_name(req.name))
        if dep is not None and not req.specifier.contains(dep.version, prereleases=True):
            problems.append("%s %s requires %s, but %s is installed"
                            % (dist.metadata["Name"], dist.version, line, dep.version))
        want(req.name, req.extras, "required by %s %s" % (dist.metadata["Name"], dist.version))

print(json.dumps({
    "dists": [{"name": installed[k].metadata["Name"], "version": installed[k].version}
              for k in sorted(extras_of)],
    "problems": problems,
}))
