"""Demo: a seeded, realistic operation (an in-house team and two vendors) written as files
in the canonical shape. Imports nothing else of the package: it is a source of data like
any other, loaded through the ordinary path."""

from __future__ import annotations

from supportkpi.demo.dataset import VENDORS, DemoSet, generate, with_iso_times

__all__ = ["VENDORS", "DemoSet", "generate", "with_iso_times"]
