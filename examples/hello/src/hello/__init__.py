"""hello: a tiny demo application for pipbake."""

__version__ = "0.1.0"
