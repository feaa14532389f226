"""Alembic environment: runs on the owner engine handed over by byte_core.db.migrate."""
from alembic import context
from sqlalchemy import text

from byte_core.models import Base

# Every `byte` command, server and scheduler migrates when it starts; several starting together take
# turns on this session-level advisory lock, and the later ones find the schema already at head.
MIGRATION_LOCK = 0x6279_7465  # "byte"

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=Base.metadata, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
