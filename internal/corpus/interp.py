# Prints facts about the running interpreter as JSON for internal/corpus.
import json
import os
import sys
import sysconfig

paths = sysconfig.get_paths()
bundled = []
try:
    import ensurepip

    bundled.append(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"))
except ImportError:
    pass
wheel_pkg_dir = sysconfig.get_config_var("WHEEL_PKG_DIR")
if wheel_pkg_dir:
    bundled.append(wheel_pkg_dir)
if sys.prefix == "/usr":
    bundled.append("/usr/share/python-wheels")

print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "full_version": sys.version,
    "implementation": sys.implementation.name,
    "major": sys.version_info[0],
    "minor": sys.version_info[1],
    "prefix": sys.prefix,
    "purelib": paths["purelib"],
    "platlib": paths["platlib"],
    "scripts": paths["scripts"],
    "data": paths["data"],
    "include": paths["include"],
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "platform": sysconfig.get_platform(),
    "bundled_dirs": bundled,
}))
