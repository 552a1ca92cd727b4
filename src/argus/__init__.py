"""Argus: a self-healing ops watchdog for a Linux host."""

__version__ = "0.1.0"
