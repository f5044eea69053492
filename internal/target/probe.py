# Prints, as one JSON object, the facts pipbake needs about this interpreter.
# Runs on every Python from 3.6 on; stdlib only.
import json, os, platform, struct, sys, sysconfig

def scheme_paths():
    names = sysconfig.get_scheme_names()
    scheme = "venv" if "venv" in names else "posix_prefix"
    if os.name == "nt":
        scheme = "venv" if "venv" in names else "nt"
    base = os.path.join(os.sep, "@@PIPBAKE_BASE@@")
    v = {"base": base, "platbase": base, "installed_base": base, "installed_platbase": base, "userbase": base}
    paths = sysconfig.get_paths(scheme=scheme, vars=v, expand=True)
    out = {}
    for key, path in paths.items():
        if path == base:
            out[key] = "."
        elif path.startswith(base + os.sep):
            out[key] = path[len(base) + 1:].replace(os.sep, "/")
    return scheme, out

def libc():
    glibc = ""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        pass
    return glibc

def stdlib_dir(package):
    """The folder of a standard library package, found without importing
    it: venv and ensurepip import logging, pathlib and more, which took half
    the probe's time."""
    try:
        d = os.path.join(sysconfig.get_paths()["stdlib"], package)
        if os.path.isfile(os.path.join(d, "__init__.py")):
            return d
    except Exception:
        pass
    try:  # another layout: locate it on sys.path, still without importing it
        import importlib.util
        spec = importlib.util.find_spec(package)
        if spec and spec.origin and os.path.isfile(spec.origin):
            return os.path.dirname(spec.origin)
    except Exception:
        pass
    return ""

def wheels_in(d):
    try:
        return [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".whl")]
    except OSError:
        return []

def bundled_wheels():
    found = []
    d = stdlib_dir("ensurepip")
    if d:
        found += wheels_in(os.path.join(d, "_bundled"))
    found += wheels_in("/usr/share/python-wheels")
    return sorted(found)

def venv_scripts():
    """The activate templates folder, and whether venv shell-quotes the
    values it puts into them (gh-124651, backported by distributions)."""
    d = stdlib_dir("venv")
    if not d:
        return "", False
    try:
        with open(os.path.join(d, "__init__.py"), encoding="utf-8") as f:
            quotes = "gh-124651" in f.read()
    except OSError:
        return "", False
    scripts = os.path.join(d, "scripts")
    return (scripts if os.path.isdir(scripts) else ""), quotes

def main():
    impl = sys.implementation
    scheme, paths = scheme_paths()
    scripts_dir, scripts_quoted = venv_scripts()
    cfg = sysconfig.get_config_vars()
    base_exe = getattr(sys, "_base_executable", sys.executable) or sys.executable
    iv = impl.version
    impl_version = "%d.%d.%d" % (iv.major, iv.minor, iv.micro)
    if iv.releaselevel != "final":
        impl_version += iv.releaselevel[0] + str(iv.serial)
    try:  # the import system's own module: already loaded
        magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER.hex()
    except Exception:
        try:
            import importlib.util
            magic = importlib.util.MAGIC_NUMBER.hex()
        except Exception:
            magic = ""
    out = {
        "executable": sys.executable,
        "base_executable": os.path.abspath(base_exe),
        "real_executable": os.path.realpath(sys.executable),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "version": list(sys.version_info[:3]),
        "version_full": platform.python_version(),
        "implementation": impl.name,
        "cache_tag": impl.cache_tag or "",
        "soabi": cfg.get("SOABI") or "",
        "ext_suffix": cfg.get("EXT_SUFFIX") or "",
        "abiflags": getattr(sys, "abiflags", ""),
        "py_debug": bool(cfg.get("Py_DEBUG")),
        "gil_disabled": bool(cfg.get("Py_GIL_DISABLED")),
        "pointer_bits": struct.calcsize("P") * 8,
        "platform": sysconfig.get_platform(),
        "machine": platform.machine(),
        "glibc": libc(),
        "scheme": scheme,
        "paths": paths,
        "venv_scripts": scripts_dir,
        "venv_quotes": scripts_quoted,
        "bundled_wheels": bundled_wheels(),
        "magic": magic,
        "markers": {
            "implementation_name": impl.name,
            "implementation_version": impl_version,
            "os_name": os.name,
            "platform_machine": platform.machine(),
            "platform_python_implementation": platform.python_implementation(),
            "platform_release": platform.release(),
            "platform_system": platform.system(),
            "platform_version": platform.version(),
            "python_full_version": platform.python_version(),
            "python_version": ".".join(platform.python_version_tuple()[:2]),
            "sys_platform": sys.platform,
        },
    }
    json.dump(out, sys.stdout)

main()
