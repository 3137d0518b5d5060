"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from coordinator import create_app

app = create_app()
