# pipbake bytecode worker: reads "source<TAB>display path" lines on stdin,
# writes unchecked-hash .pyc files next to the sources (in __pycache__), and
# answers one line per request, in order:
#   ok<TAB>pyc path<TAB>sha256 hex<TAB>size
#   err<TAB>message
# It exits, writing nothing more, once the process that started it is gone.
# It answers everything it has read in one write, so a worker with several
# requests queued costs one read and one write per batch, not per file.
import hashlib, os, sys
from importlib import _bootstrap_external as be
from importlib.util import source_hash

TAG = sys.implementation.cache_tag
PARENT = os.getppid()  # the pool's process; it changes when that dies
made = set()  # __pycache__ folders known to exist

def compile_one(src, dfile):
    if TAG is None:
        raise NotImplementedError("this Python has no bytecode cache tag")
    with open(src, "rb") as f:
        source = f.read()
    code = compile(source, dfile, "exec", dont_inherit=True)
    data = be._code_to_hash_pyc(code, source_hash(source), False)
    # importlib.util.cache_from_source for a .py file, without its
    # generality (no optimization level, no pycache_prefix under -I)
    head, tail = os.path.split(src)
    cache = head + "/__pycache__"
    cfile = cache + "/" + tail.rpartition(".")[0] + "." + TAG + ".pyc"
    if cache not in made:
        try:
            os.mkdir(cache)
        except FileExistsError:
            pass
        made.add(cache)
    mode = (os.stat(src).st_mode | 0o200) & 0o666
    fd = os.open(cfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return cfile, hashlib.sha256(data).hexdigest(), len(data)

def answer(line):
    if os.getppid() != PARENT:
        # Orphaned (where no parent-death signal killed us): the release
        # being built is abandoned; write nothing more into it.
        os._exit(1)
    src, _, dfile = line.partition("\t")
    try:
        cfile, digest, size = compile_one(src, dfile or src)
        return "ok\t%s\t%s\t%d\n" % (cfile, digest, size)
    except BaseException as e:  # SyntaxError for another Python, bad encodings...
        msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ").replace("\t", " ")
        return "err\t%s\n" % msg

def main():
    pending = b""
    while True:
        data = os.read(0, 1 << 16)
        if not data:
            return
        *lines, pending = (pending + data).split(b"\n")
        out = "".join(answer(l.decode("utf-8", "surrogateescape")) for l in lines)
        out = out.encode("utf-8", "surrogateescape")
        while out:
            out = out[os.write(1, out):]

main()
