"""Command-line entry point of hello."""
import platform
import sys

from hello import __version__


def greeting():
    """Returns the line hello prints."""
    return "Hello from hello %s on Python %s (sys.prefix: %s)" % (
        __version__,
        platform.python_version(),
        sys.prefix,
    )


def main(argv=None):
    """Prints the greeting and returns the exit status."""
    print(greeting())
    return 0
