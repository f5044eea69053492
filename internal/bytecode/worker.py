# pipbake bytecode worker: reads "source<TAB>display path" lines on stdin,
# writes unchecked-hash .pyc files next to the sources (in __pycache__), and
# answers one line per request:
#   ok<TAB>pyc path<TAB>sha256 hex<TAB>size
#   err<TAB>message
import hashlib, importlib.util, os, sys
from importlib import _bootstrap_external as be

def compile_one(src, dfile):
    with open(src, "rb") as f:
        source = f.read()
    code = compile(source, dfile, "exec", dont_inherit=True)
    data = be._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
    cfile = importlib.util.cache_from_source(src)
    os.makedirs(os.path.dirname(cfile), exist_ok=True)
    mode = (os.stat(src).st_mode | 0o200) & 0o666
    fd = os.open(cfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return cfile, hashlib.sha256(data).hexdigest(), len(data)

def main():
    out = sys.stdout
    for line in sys.stdin:
        src, _, dfile = line.rstrip("\n").partition("\t")
        try:
            cfile, digest, size = compile_one(src, dfile or src)
            out.write("ok\t%s\t%s\t%d\n" % (cfile, digest, size))
        except BaseException as e:  # SyntaxError for another Python, bad encodings...
            msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ").replace("\t", " ")
            out.write("err\t%s\n" % msg)
        out.flush()

main()
