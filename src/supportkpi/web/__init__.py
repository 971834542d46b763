"""The dashboard page and its static assets (served by :mod:`supportkpi.api.web`)."""
