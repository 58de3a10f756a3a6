"""Backchannel: self-hostable direct messaging."""

__version__ = "0.1.0"
