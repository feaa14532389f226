"""SQLAlchemy models. They mirror migration 0001 exactly; tests/test_schema.py checks that."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, Computed, Date, Double, ForeignKey, ForeignKeyConstraint, Index, Integer,
    Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TZ = TIMESTAMP(timezone=True)
NOW = text("now()")


class Base(DeclarativeBase):
    pass


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"),
                         default=uuid.uuid4)


def _org() -> Mapped[str]:
    return mapped_column(Text, ForeignKey("organizations.id"), nullable=False)


# Tenancy in the keys (migration 0008): a reference between org-scoped tables is (org_id, x_id) -> (org_id, id),
# so a row can never point into another organization; every referenced table has UNIQUE (org_id, id).
def _org_key(table: str) -> UniqueConstraint:
    return UniqueConstraint("org_id", "id", name=f"uq_{table}_org_id_id")


def _org_fk(table: str, column: str, target: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["org_id", column], [f"{target}.org_id", f"{target}.id"],
                                name=f"fk_{table}_{column}_org", ondelete=ondelete)


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="organizations_slug_format"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    slug: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    intake_token: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"), default=dict)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("roles <@ ARRAY['admin','manager','reviewer','hr']::text[]", name="users_known_roles"),
        Index("idx_users_org", "org_id"),
        Index("idx_users_roles", "roles", postgresql_using="gin"),
        Index("uq_users_email", func.lower(text("email")), unique=True),
        _org_key("users"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    org_id: Mapped[str] = _org()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text, server_default=text("'user'"))
    roles: Mapped[list[str] | None] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"), default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(TZ)
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    last_login_at: Mapped[datetime | None] = mapped_column(TZ)

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.email


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("idx_login_attempts_email", func.lower(text("email")), text("created_at DESC")),
        Index("idx_login_attempts_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str | None] = mapped_column(Text, ForeignKey("organizations.id"))
    email: Mapped[str] = mapped_column(Text, nullable=False)
    ip_address: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    was_successful: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class UserSession(Base):
    """A signed-in browser (migration 0007): only hashes of its cookie token and handoff code are kept."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        CheckConstraint("(revoked_at IS NULL) = (revoked_reason IS NULL)", name="user_sessions_revoked_with_reason"),
        Index("idx_user_sessions_user", "org_id", "user_id", "created_at"),
        _org_fk("user_sessions", "user_id", "users", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    handoff_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    handoff_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    last_seen_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    expires_at: Mapped[datetime] = mapped_column(TZ, nullable=False)
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("idx_contacts_org", "org_id"),
        Index("idx_contacts_email", "email"),
        Index("idx_contacts_name", "last_name", "first_name"),
        Index("idx_contacts_email_key", "org_id", "email_key"),
        _org_key("contacts"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    first_name: Mapped[str] = mapped_column(Text, nullable=False)
    last_name: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    #: lower(email), kept by PostgreSQL: look a contact up by email with `email_key == x.lower()`. Under
    #: row-level security `lower(email) = x` can use no index (lower() is not leakproof) and scanned
    #: every contact of the organization (111 ms at 100,000) on each save and each intake delivery.
    email_key: Mapped[str | None] = mapped_column(Text, Computed("lower(email)", persisted=True))
    #: lower("first last"), kept by PostgreSQL: what a name search matches (LIKE on a stored value instead
    #: of lower() and a concatenation per row: half the time of a search over 100,000 contacts).
    name_key: Mapped[str] = mapped_column(Text, Computed("lower((first_name || ' ') || last_name)", persisted=True))
    phone: Mapped[str | None] = mapped_column(Text)
    address_line_1: Mapped[str | None] = mapped_column(Text)
    address_line_2: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    zip: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB, server_default=text("'{}'"),
                                                             default=dict)
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), server_default=text("'{}'"), default=list)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class WorkflowDefinition(Base):
    __tablename__ = "workflow_definitions"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="workflow_definitions_org_name"),
        Index("idx_workflow_definitions_org", "org_id"),
        Index("idx_workflow_definitions_active", "org_id", "is_active"),
        _org_key("workflow_definitions"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    phases: Mapped[Any] = mapped_column(JSONB, nullable=True, server_default=text("'[]'"))
    steps: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=text("'{\"steps\": []}'"))
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"), default=True)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"), default=1)


class WorkflowDefinitionVersion(Base):
    __tablename__ = "workflow_definition_versions"
    __table_args__ = (
        UniqueConstraint("workflow_definition_id", "version", name="workflow_definition_versions_unique"),
        _org_fk("workflow_definition_versions", "workflow_definition_id", "workflow_definitions", "CASCADE"),
        _org_fk("workflow_definition_versions", "created_by", "users"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    phases: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))
    steps: Mapped[Any] = mapped_column(JSONB, nullable=False)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    # The description as of this version (0014); NULL for versions saved before it was kept per version.
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


EXECUTION_STATUSES = ("running", "paused", "completed", "failed", "cancelled")


class WorkflowExecution(Base):
    __tablename__ = "workflow_executions"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'paused', 'completed', 'failed', 'cancelled')",
                        name="workflow_executions_status"),
        Index("idx_workflow_executions_contact", "contact_id"),
        Index("idx_workflow_executions_status", "org_id", "status"),
        Index("idx_workflow_executions_temporal", "temporal_workflow_id"),
        Index("idx_workflow_executions_definition_created", "workflow_definition_id", text("created_at DESC")),
        Index("idx_workflow_executions_org_started", "org_id", text("started_at DESC")),
        Index("idx_workflow_executions_pipeline", "org_id", "workflow_definition_id", "status", "current_phase_id"),
        Index("idx_workflow_executions_open_steps", "org_id", "workflow_definition_id", "definition_version",
              "current_step_id", postgresql_where=text("status IN ('running', 'paused')")),
        Index("idx_workflow_executions_due_by_org", "org_id", "next_run_at",
              postgresql_where=text("status = 'running' AND next_run_at IS NOT NULL")),
        _org_key("workflow_executions"),
        _org_fk("workflow_executions", "workflow_definition_id", "workflow_definitions"),
        _org_fk("workflow_executions", "contact_id", "contacts"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    current_step_id: Mapped[str | None] = mapped_column(Text)
    current_phase_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'running'"), default="running")
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"), default=dict)
    source: Mapped[str | None] = mapped_column(Text, server_default=text("'manual'"))
    source_id: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    completed_at: Mapped[datetime | None] = mapped_column(TZ)
    temporal_workflow_id: Mapped[str | None] = mapped_column(Text)
    temporal_run_id: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB, server_default=text("'{}'"),
                                                             default=dict)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    definition_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"), default=1)
    next_run_at: Mapped[datetime | None] = mapped_column(TZ)
    step_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text)


class StepVisit(Base):
    """One visit of an execution to a step: the step history (seed 001 `execution_steps`)."""

    __tablename__ = "workflow_execution_steps"
    __table_args__ = (
        UniqueConstraint("workflow_execution_id", "seq", name="workflow_execution_steps_seq"),
        CheckConstraint("status IN ('running', 'waiting', 'completed', 'failed', 'timed_out', 'cancelled')",
                        name="workflow_execution_steps_status"),
        Index("idx_execution_steps_org_step", "org_id", "step_id", "entered_at"),
        _org_key("workflow_execution_steps"),
        _org_fk("workflow_execution_steps", "workflow_execution_id", "workflow_executions", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_execution_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    step_id: Mapped[str] = mapped_column(Text, nullable=False)
    phase_id: Mapped[str | None] = mapped_column(Text)
    step_type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'running'"))
    outcome: Mapped[str | None] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    left_at: Mapped[datetime | None] = mapped_column(TZ)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    timeout_at: Mapped[datetime | None] = mapped_column(TZ)
    output: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    error: Mapped[str | None] = mapped_column(Text)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('todo', 'in_progress', 'done', 'cancelled')", name="tasks_status"),
        CheckConstraint("priority IN ('low', 'medium', 'high')", name="tasks_priority"),
        UniqueConstraint("step_visit_id", name="tasks_one_per_step_visit"),
        Index("idx_tasks_org", "org_id"),
        Index("idx_tasks_assigned", "assigned_to"),
        Index("idx_tasks_role", "assigned_role", postgresql_where=text("assigned_role IS NOT NULL")),
        Index("idx_tasks_status", "org_id", "status"),
        Index("idx_tasks_workflow_execution", "workflow_execution_id"),
        Index("idx_tasks_position", "org_id", "status", "position"),
        Index("idx_tasks_contact", "contact_id"),
        Index("idx_tasks_org_created", "org_id", "created_at"),
        Index("idx_tasks_open_queues", "org_id", "assigned_role",
              postgresql_include=["assigned_to", "snoozed_until", "title", "contact_id", "due_date", "priority",
                                  "created_at", "id"],
              postgresql_where=text("status IN ('todo', 'in_progress')")),
        Index("idx_tasks_open_due", "org_id", "due_date", postgresql_include=["created_at", "assigned_role", "assigned_to"],
              postgresql_where=text("status IN ('todo', 'in_progress')")),
        Index("idx_tasks_done_time", "org_id", "completed_at",
              postgresql_include=["completed_by", "created_at", "due_date", "assigned_role"],
              postgresql_where=text("status = 'done'")),
        Index("idx_tasks_decisions", "org_id", "created_at",
              postgresql_include=["workflow_execution_id", "created_by_step_id", "outcome"],
              postgresql_where=text("task_type = 'approval' AND status = 'done'")),
        _org_key("tasks"),
        _org_fk("tasks", "workflow_execution_id", "workflow_executions"),
        _org_fk("tasks", "contact_id", "contacts"),
        _org_fk("tasks", "assigned_to", "users"),
        _org_fk("tasks", "step_visit_id", "workflow_execution_steps", "SET NULL (step_visit_id)"),
        _org_fk("tasks", "completed_by", "users"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    assigned_to: Mapped[str | None] = mapped_column(Text)
    assigned_role: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    task_type: Mapped[str | None] = mapped_column(Text, server_default=text("'standard'"), default="standard")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'todo'"), default="todo")
    priority: Mapped[str | None] = mapped_column(Text, server_default=text("'medium'"), default="medium")
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_comment: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    due_date: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(TZ)
    created_by_step_id: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB, server_default=text("'{}'"),
                                                             default=dict)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    step_visit_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    completed_by: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every change adds one; a command carries the version the person saw.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"), default=1)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[date | None] = mapped_column(Date)


class SavedTaskView(Base):
    """A person's named filter of the task queue (queue, search, sort)."""

    __tablename__ = "saved_task_views"
    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 80", name="saved_task_views_name_check"),
        UniqueConstraint("org_id", "user_id", "name", name="saved_task_views_name"),
        _org_fk("saved_task_views", "user_id", "users", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    queue: Mapped[str] = mapped_column(Text, nullable=False)
    search: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"), default="")
    sort: Mapped[str] = mapped_column(Text, nullable=False)
    include_claimed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"),
                                                  default=False)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class WorkflowDraft(Base):
    """An admin's unpublished edit of a definition ('' names a new one), kept until published or discarded."""

    __tablename__ = "workflow_drafts"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", "definition_name", name="workflow_drafts_owner_name"),
        _org_fk("workflow_drafts", "user_id", "users", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    definition_name: Mapped[str] = mapped_column(Text, nullable=False)
    draft: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class WorkflowMigration(Base):
    """Running executions moved from one version of a definition to another: one revertible operation."""

    __tablename__ = "workflow_migrations"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'reverted')", name="workflow_migrations_status_check"),
        UniqueConstraint("org_id", "id", name="uq_workflow_migrations_org_id_id"),
        _org_fk("workflow_migrations", "workflow_definition_id", "workflow_definitions"),
        _org_fk("workflow_migrations", "created_by", "users"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_definition_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    from_version: Mapped[int] = mapped_column(Integer, nullable=False)
    to_version: Mapped[int] = mapped_column(Integer, nullable=False)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"), default=dict)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'running'"), default="running")
    migrated: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)


class WorkflowMigrationItem(Base):
    """One execution a migration touched, with what it was before (so it can be put back)."""

    __tablename__ = "workflow_migration_items"
    __table_args__ = (
        CheckConstraint("status IN ('migrated', 'failed', 'reverted', 'kept')",
                        name="workflow_migration_items_status_check"),
        Index("idx_migration_items_migration", "migration_id"),
        _org_fk("workflow_migration_items", "migration_id", "workflow_migrations", "CASCADE"),
        _org_fk("workflow_migration_items", "workflow_execution_id", "workflow_executions", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    migration_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_execution_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    mode: Mapped[str | None] = mapped_column(Text)
    from_step_id: Mapped[str | None] = mapped_column(Text)
    to_step_id: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"), default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        CheckConstraint(
            "(workflow_execution_id IS NOT NULL)::int + (contact_id IS NOT NULL)::int + (task_id IS NOT NULL)::int = 1",
            name="one_parent_only"),
        Index("idx_notes_entity", "entity_type", "entity_id"),
        Index("idx_notes_org", "org_id"),
        Index("idx_notes_workflow_execution", "workflow_execution_id",
              postgresql_where=text("workflow_execution_id IS NOT NULL")),
        Index("idx_notes_contact", "contact_id", postgresql_where=text("contact_id IS NOT NULL")),
        Index("idx_notes_task", "task_id", postgresql_where=text("task_id IS NOT NULL")),
        _org_fk("notes", "workflow_execution_id", "workflow_executions", "CASCADE"),
        _org_fk("notes", "contact_id", "contacts", "CASCADE"),
        _org_fk("notes", "task_id", "tasks", "CASCADE"),
        _org_fk("notes", "user_id", "users"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    is_internal: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"), default=True)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)


class ActivityLog(Base):
    __tablename__ = "activity_log"
    __table_args__ = (
        Index("idx_activity_entity", "entity_type", "entity_id"),
        Index("idx_activity_org_time", "org_id", text("created_at DESC")),
        Index("idx_activity_timeouts", "org_id", "created_at", postgresql_where=text("action = 'step_timed_out'")),
        Index("idx_activity_workflow_execution", "workflow_execution_id",
              postgresql_where=text("workflow_execution_id IS NOT NULL")),
        Index("idx_activity_contact", "contact_id", postgresql_where=text("contact_id IS NOT NULL")),
        Index("idx_activity_task", "task_id", postgresql_where=text("task_id IS NOT NULL")),
        _org_fk("activity_log", "user_id", "users"),
        _org_fk("activity_log", "workflow_execution_id", "workflow_executions", "CASCADE"),
        _org_fk("activity_log", "contact_id", "contacts", "CASCADE"),
        _org_fk("activity_log", "task_id", "tasks", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str | None] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"), default=dict)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)


class FormstackConfig(Base):
    __tablename__ = "formstack_config"
    __table_args__ = (_org_fk("formstack_config", "default_workflow_definition_id", "workflow_definitions"),)

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = mapped_column(Text, ForeignKey("organizations.id"), nullable=False, unique=True)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    field_mappings: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"), default=dict)
    default_workflow_definition_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"), default=True)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    handshake_key: Mapped[str | None] = mapped_column(Text)
    signature_header: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'X-FS-Signature'"),
                                                  default="X-FS-Signature")
    # {form_id: {"field_mappings": {...}, "default_workflow_definition_id": "..."}}: per-form overrides
    form_settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"),
                                                          default=dict)
    sample_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Deliveries without any secret are accepted only when an admin chose so (`--allow-unsigned`).
    allow_unsigned: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"), default=False)


class FormstackSubmission(Base):
    __tablename__ = "formstack_submissions"
    __table_args__ = (
        UniqueConstraint("org_id", "submission_id"),
        Index("idx_formstack_org", "org_id"),
        Index("idx_formstack_processed", "processed", postgresql_where=text("NOT processed")),
        Index("idx_formstack_pending", "org_id", "created_at", postgresql_where=text("NOT processed AND error IS NULL")),
        _org_fk("formstack_submissions", "workflow_execution_id", "workflow_executions"),
        _org_fk("formstack_submissions", "contact_id", "contacts"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    form_id: Mapped[str] = mapped_column(Text, nullable=False)
    submission_id: Mapped[str] = mapped_column(Text, nullable=False)
    raw_payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    processed: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"), default=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    duplicate_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    last_received_at: Mapped[datetime | None] = mapped_column(TZ)
    processed_at: Mapped[datetime | None] = mapped_column(TZ)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    mapped: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class SchedulerHeartbeat(Base):
    """One row per scheduler process: not tenant data, so it carries no org_id."""

    __tablename__ = "scheduler_heartbeats"

    worker_id: Mapped[str] = mapped_column(Text, primary_key=True)
    hostname: Mapped[str] = mapped_column(Text, nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    last_tick_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    claimed: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    advanced: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    errors: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    batches: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    batch_seconds: Mapped[float] = mapped_column(Double, nullable=False, server_default=text("0"))


# --- notifications ([F], migration 0009) ------------------------------------------------------------------
class Notification(Base):
    """One thing a person should hear about. `in_app` rows show on the Notifications page; `email_state`
    says whether an email went (or goes, in the daily digest) with it."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("email_state IN ('none', 'immediate', 'digest', 'digested')", name="notifications_email_state"),
        Index("idx_notifications_user", "user_id", text("created_at DESC"), postgresql_where=text("in_app")),
        Index("idx_notifications_unread", "user_id", postgresql_where=text("in_app AND read_at IS NULL")),
        Index("idx_notifications_digest", "user_id", postgresql_where=text("email_state = 'digest'")),
        Index("idx_notifications_task", "task_id", postgresql_where=text("task_id IS NOT NULL")),
        _org_fk("notifications", "user_id", "users", "CASCADE"),
        _org_fk("notifications", "task_id", "tasks", "CASCADE"),
        _org_fk("notifications", "workflow_execution_id", "workflow_executions", "CASCADE"),
        _org_fk("notifications", "contact_id", "contacts", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_user_id: Mapped[str | None] = mapped_column(Text)
    in_app: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"), default=True)
    email_state: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'none'"), default="none")
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    read_at: Mapped[datetime | None] = mapped_column(TZ)


class NotificationPreference(Base):
    """A user's choices; no row means the defaults (byte_core.notifications.events.DEFAULT_*)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint("email_mode IN ('immediate', 'digest')", name="notification_preferences_mode"),
        CheckConstraint("digest_hour BETWEEN 0 AND 23", name="notification_preferences_hour"),
        _org_fk("notification_preferences", "user_id", "users", "CASCADE"),
    )

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    org_id: Mapped[str] = _org()
    in_app_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    email_kinds: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    email_mode: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'immediate'"), default="immediate")
    digest_hour: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("8"), default=8)
    last_digest_at: Mapped[datetime | None] = mapped_column(TZ)
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class EmailOutbox(Base):
    """An email waiting to leave, or its record once sent or given up. The row id is the idempotency key:
    the Message-ID is derived from it, so a retry re-sends the same message."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("kind IN ('notification', 'digest', 'test')", name="email_outbox_kind"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="email_outbox_status"),
        Index("idx_email_outbox_due", "org_id", "next_attempt_at",
              postgresql_where=text("status IN ('pending', 'sending')")),
        Index("idx_email_outbox_org_created", "org_id", text("created_at DESC")),
        _org_fk("email_outbox", "user_id", "users", "SET NULL (user_id)"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str | None] = mapped_column(Text)
    to_address: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    notification_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False,
                                                              server_default=text("'{}'"), default=list)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    locked_until: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("format IN ('json', 'slack')", name="webhook_endpoints_format"),
        Index("idx_webhook_endpoints_org", "org_id", postgresql_where=text("is_active")),
        UniqueConstraint("org_id", "id", name="uq_webhook_endpoints_org_id_id"),
        _org_fk("webhook_endpoints", "created_by", "users"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    url: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    format: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'json'"), default="json")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"), default=True)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="webhook_deliveries_status"),
        Index("idx_webhook_deliveries_due", "org_id", "next_attempt_at",
              postgresql_where=text("status IN ('pending', 'sending')")),
        Index("idx_webhook_deliveries_endpoint", "endpoint_id", text("created_at DESC")),
        _org_fk("webhook_deliveries", "endpoint_id", "webhook_endpoints", "CASCADE"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
    locked_until: Mapped[datetime | None] = mapped_column(TZ)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(TZ)
    redelivery_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


class TaskReminder(Base):
    """That a task's 'due soon' or 'overdue' notification was produced: the sweep fires each once."""

    __tablename__ = "task_reminders"
    __table_args__ = (
        CheckConstraint("kind IN ('task_due_soon', 'task_overdue')", name="task_reminders_kind"),
        _org_fk("task_reminders", "task_id", "tasks", "CASCADE"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True),
                                               primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    org_id: Mapped[str] = _org()
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)
