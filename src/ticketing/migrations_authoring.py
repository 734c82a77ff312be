"""Tortoise config for writing new migrations, not for running the app.

``tortoise -c ticketing.migrations_authoring.TORTOISE_ORM makemigrations`` compares the
models with ``migrations/<module>/`` and writes what changed (see docs/adr/0002).
"""

from pathlib import Path

from ticketing.db import tortoise_config
from ticketing.settings import Settings

TORTOISE_ORM = tortoise_config(Settings(data_dir=Path(".migrations-authoring")))
