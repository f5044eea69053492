"""Runs hello as ``python -m hello``."""
import sys

from hello.cli import main

if __name__ == "__main__":
    sys.exit(main())
