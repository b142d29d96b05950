"""WSGI entry point for gunicorn: `gunicorn wsgi:app` (what `villa serve` runs)."""

from villa import create_app

app = create_app()
