"""Alembic environment: runs on the owner engine handed over by byte_core.db.migrate."""
from alembic import context

from byte_core.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
