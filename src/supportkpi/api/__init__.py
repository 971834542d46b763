"""The HTTP API and dashboard server: ``create_app()`` builds it, ``supportkpi serve`` runs it."""

from __future__ import annotations

from supportkpi.api.app import create_app

__all__ = ["create_app"]
