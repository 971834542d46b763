"""The HTTP API and dashboard server: ``create_app()`` builds it, ``supportkpi serve`` runs it.

An interface: imports the analysis and load services, the store (tokens, ownership) and
the settings; never grains, Ibis, the engine or the facts directly."""

from __future__ import annotations

from supportkpi.api.app import create_app

__all__ = ["create_app"]
