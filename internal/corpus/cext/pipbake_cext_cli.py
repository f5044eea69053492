"""Pure-Python companion of the pipbake_cext extension module."""
import sys

import pipbake_cext


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    a, b = (int(x) for x in args) if len(args) == 2 else (2, 3)
    print("pipbake_cext %s: %d + %d = %d" % (pipbake_cext.__version__, a, b, pipbake_cext.add(a, b)))
    return 0
