"""Reference facts about lock files, for internal/lock's TestRealWorldLocks.

Usage: python3.11 pipref.py FILE...
Prints one JSON document: the interpreter's marker environment and, for
each FILE, what pip and the Python standard library read in it. Nothing
here comes from pipbake.

Requirements files are read by pip's own parser
(pip._internal.req.req_file.parse_requirements, then
install_req_from_parsed_requirement), and each requirement's marker is
evaluated by pip (InstallRequirement.match_markers, i.e. with extra "")
in this interpreter's environment.

pylock.toml files: the reference reader would be packaging.pylock
(packaging 26), which no Python on this machine has. Instead the TOML is
read with tomllib (standard library) and these PEP 751 facts are taken
from it: lock-version, requires-python, environments, default-groups, and
for each [[packages]] entry its name, version, marker, requires-python,
the name (or URL/path basename) and sha256 of each wheel, and which of
sdist, vcs, directory and archive it has. The line of each [[packages]]
header comes from a scan of the text (tomllib has no positions). A
package is selected when its marker holds and its requires-python admits
this interpreter, with the lock's default-groups selected and no extras:
the membership tests `"name" in extras` / `in dependency_groups` (PEP 751,
unknown to pip's vendored packaging) are decided here with packaging's
canonicalize_name and replaced by an always-true or always-false
comparison; pip's vendored packaging evaluates the rest of the marker.
"""

import json
import os
import platform
import re
import sys
import tomllib
from urllib.parse import unquote, urlsplit

from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import parse_requirements
from pip._vendor.packaging.markers import Marker, default_environment
from pip._vendor.packaging.specifiers import SpecifierSet
from pip._vendor.packaging.utils import canonicalize_name

ENV = default_environment()
PYTHON = platform.python_version()


def requirements(path):
    out = {"kind": "requirements", "requirements": []}
    try:
        for pr in parse_requirements(path, session=PipSession()):
            m = re.search(r"^-r (.*) \(line (\d+)\)$", pr.comes_from)
            r = {"file": m.group(1), "line": int(m.group(2)), "editable": pr.is_editable}
            try:
                ireq = install_req_from_parsed_requirement(pr)
            except Exception as e:  # noqa: BLE001 - reported, not raised
                r["error"] = f"{type(e).__name__}: {e}"
                out["requirements"].append(r)
                continue
            specs = list(ireq.req.specifier) if ireq.req else []
            exact = len(specs) == 1 and specs[0].operator == "==" and not specs[0].version.endswith(".*")
            r.update(
                name=canonicalize_name(ireq.req.name) if ireq.req else None,
                specifier=str(ireq.req.specifier) if ireq.req else None,
                pinned=specs[0].version if exact else None,
                wildcard=len(specs) == 1 and specs[0].version.endswith(".*"),
                url=ireq.link.url if ireq.link else None,
                hashes=sorted(f"{a.lower()}:{h.lower()}" for a, hs in ireq.hash_options.items() for h in hs),
                marker=str(ireq.markers) if ireq.markers else None,
                selected=ireq.match_markers(),
            )
            out["requirements"].append(r)
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
    return out


MEMBERSHIP = re.compile(
    r"""(?P<q>['"])(?P<name>[^'"]*)(?P=q)\s+(?P<op>not\s+in|in)\s+(?P<var>extras|dependency_groups)\b"""
)


def evaluate(marker, groups, extras):
    def decide(m):
        names = extras if m["var"] == "extras" else groups
        member = canonicalize_name(m["name"]) in names
        if m["op"] != "in":
            member = not member
        return 'python_version >= "0"' if member else 'python_version < "0"'

    return Marker(MEMBERSHIP.sub(decide, marker)).evaluate(ENV)


def basename(url, path):
    if path:
        return re.split(r"[/\\]", path)[-1]
    return unquote(urlsplit(url or "").path.rsplit("/", 1)[-1])


def pylock(path):
    out = {"kind": "pylock"}
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    headers = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if re.match(r"""^\s*\[\[\s*(packages|"packages"|'packages')\s*\]\]\s*(#.*)?$""", line):
                headers.append(i)
    groups = {canonicalize_name(g) for g in doc.get("default-groups", [])}
    extras = set()
    out.update(
        lock_version=doc.get("lock-version"),
        created_by=doc.get("created-by"),
        requires_python=doc.get("requires-python"),
        environments=doc.get("environments"),
        default_groups=doc.get("default-groups"),
    )
    ok = True
    if out["requires_python"]:
        ok = SpecifierSet(out["requires_python"]).contains(PYTHON, prereleases=True)
    if out["environments"]:
        ok = ok and any(evaluate(m, groups, extras) for m in out["environments"])
    out["environment_supported"] = ok
    packages = doc.get("packages", [])
    out["packages"] = []
    for i, p in enumerate(packages):
        e = {
            "line": headers[i] if len(headers) == len(packages) else None,
            "name": p.get("name"),
            "version": p.get("version"),
            "marker": p.get("marker"),
            "requires_python": p.get("requires-python"),
            "wheels": [
                {"name": w.get("name") or basename(w.get("url"), w.get("path")), "sha256": (w.get("hashes") or {}).get("sha256")}
                for w in p.get("wheels", [])
            ],
            "sources": [k for k in ("sdist", "vcs", "directory", "archive") if k in p],
        }
        selected = True
        if e["marker"]:
            selected = evaluate(e["marker"], groups, extras)
        if e["requires_python"]:
            selected = selected and SpecifierSet(e["requires_python"]).contains(PYTHON, prereleases=True)
        e["selected"] = selected
        out["packages"].append(e)
    return out


def main():
    files = {}
    for path in sys.argv[1:]:
        name = os.path.basename(path)
        files[path] = pylock(path) if name.startswith("pylock.") and name.endswith(".toml") else requirements(path)
    json.dump({"python": PYTHON, "env": ENV, "files": files}, sys.stdout, indent=1, sort_keys=True)


main()
