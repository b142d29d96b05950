"""Administration: users, settings, sales materials, backups, retention, duplicates, import and export.

Each feature is a module on this blueprint and adds itself to the admin home with `section()`.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
SECTIONS: list[tuple[str, object, object]] = []  # (endpoint, title, what it is for)


def section(endpoint: str, title, purpose):
    """List a tool on the admin home page."""
    SECTIONS.append((endpoint, title, purpose))


# Each module adds its pages to the blueprint (and the admin home) when imported.
from villa.web.admin import (  # noqa: E402, F401
    backups,
    duplicates,
    keys,
    materials,
    pledge,
    retention,
    routes,
    settings,
    transfer,
    users,
)
