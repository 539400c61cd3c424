"""Schema versions: bring the database up to date with Alembic, or say how far behind it is."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_POSTGRES_MIGRATION_LOCK = 0x43584D4947  # "CXMIG": one migrator at a time across replicas


class SchemaError(Exception):
    """The database holds a schema this version of cxbot does not know."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def schema_state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        return _state(connection)


def _state(connection: Connection) -> SchemaState:
    script = ScriptDirectory.from_config(_config(connection))
    head = script.get_current_head()
    assert head is not None, "storage/migrations has no revisions"
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and not _known(script, current):
        raise SchemaError(
            f"the database is at schema revision {current}, which this version of cxbot "
            "does not know; it was migrated by a newer cxbot"
        )
    return SchemaState(current=current, head=head)


def _known(script: ScriptDirectory, revision_id: str) -> bool:
    try:
        return script.get_revision(revision_id) is not None
    except (CommandError, ResolutionError):
        return False


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest revision. Returns (revision before, revision after)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})
        before = _state(connection)
        if not before.up_to_date:
            command.upgrade(_config(connection), "head")
        return before.current, before.head


def migrate(engine: Engine) -> None:
    """Bring the schema up to date, saying so in the log if it changed anything."""
    before, after = upgrade(engine)
    if before != after:
        log.info("database schema migrated from %s to %s", before or "empty", after)
