"""SQLAlchemy models. They mirror migration 0001 exactly; tests/test_schema.py checks that."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, CheckConstraint, Date, Double, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text,
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
    ended_sessions: Mapped[list[datetime]] = mapped_column(ARRAY(TZ), nullable=False, server_default=text("'{}'"),
                                                          default=list)
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


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("idx_contacts_org", "org_id"),
        Index("idx_contacts_email", "email"),
        Index("idx_contacts_name", "last_name", "first_name"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    first_name: Mapped[str] = mapped_column(Text, nullable=False)
    last_name: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
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
    __table_args__ = (UniqueConstraint("workflow_definition_id", "version", name="workflow_definition_versions_unique"),)

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_definitions.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    phases: Mapped[Any] = mapped_column(JSONB, nullable=False, server_default=text("'[]'"))
    steps: Mapped[Any] = mapped_column(JSONB, nullable=False)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'"))
    created_by: Mapped[str | None] = mapped_column(Text, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZ, nullable=False, server_default=NOW)


EXECUTION_STATUSES = ("running", "paused", "completed", "failed", "cancelled")


class WorkflowExecution(Base):
    __tablename__ = "workflow_executions"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'paused', 'completed', 'failed', 'cancelled')",
                        name="workflow_executions_status"),
        Index("idx_workflow_executions_org", "org_id"),
        Index("idx_workflow_executions_contact", "contact_id"),
        Index("idx_workflow_executions_status", "org_id", "status"),
        Index("idx_workflow_executions_definition", "workflow_definition_id"),
        Index("idx_workflow_executions_temporal", "temporal_workflow_id"),
        Index("idx_workflow_executions_definition_created", "workflow_definition_id", text("created_at DESC")),
        Index("idx_workflow_executions_org_started", "org_id", text("started_at DESC")),
        Index("idx_workflow_executions_pipeline", "org_id", "workflow_definition_id", "status", "current_phase_id"),
        Index("idx_workflow_executions_open_steps", "org_id", "workflow_definition_id", "definition_version",
              "current_step_id", postgresql_where=text("status IN ('running', 'paused')")),
        Index("idx_workflow_executions_due", "next_run_at",
              postgresql_where=text("status = 'running' AND next_run_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_definition_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_definitions.id"), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False)
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


class WorkflowExecutionStep(Base):
    """One visit of an execution to a step: the step history (seed 001 `execution_steps`)."""

    __tablename__ = "workflow_execution_steps"
    __table_args__ = (
        UniqueConstraint("workflow_execution_id", "seq", name="workflow_execution_steps_seq"),
        CheckConstraint("status IN ('running', 'waiting', 'completed', 'failed', 'timed_out', 'cancelled')",
                        name="workflow_execution_steps_status"),
        Index("idx_execution_steps_execution", "workflow_execution_id", "seq"),
        Index("idx_execution_steps_org_step", "org_id", "step_id", "entered_at"),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_execution_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=False)
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
        UniqueConstraint("step_run_id", name="tasks_one_per_step_run"),
        Index("idx_tasks_org", "org_id"),
        Index("idx_tasks_assigned", "assigned_to"),
        Index("idx_tasks_role", "assigned_role", postgresql_where=text("assigned_role IS NOT NULL")),
        Index("idx_tasks_status", "org_id", "status"),
        Index("idx_tasks_workflow_execution", "workflow_execution_id"),
        Index("idx_tasks_position", "org_id", "status", "position"),
        Index("idx_tasks_contact", "contact_id"),
        Index("idx_tasks_org_created", "org_id", "created_at"),
        Index("idx_tasks_open_due", "org_id", "due_date", postgresql_include=["created_at", "assigned_role", "assigned_to"],
              postgresql_where=text("status IN ('todo', 'in_progress')")),
        Index("idx_tasks_done_time", "org_id", "completed_at",
              postgresql_include=["completed_by", "created_at", "due_date", "assigned_role"],
              postgresql_where=text("status = 'done'")),
        Index("idx_tasks_decisions", "org_id", "created_at",
              postgresql_include=["workflow_execution_id", "created_by_step_id", "outcome"],
              postgresql_where=text("task_type = 'approval' AND status = 'done'")),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_executions.id"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id"))
    assigned_to: Mapped[str | None] = mapped_column(Text, ForeignKey("users.id"))
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
    step_run_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_execution_steps.id", ondelete="SET NULL"))
    completed_by: Mapped[str | None] = mapped_column(Text, ForeignKey("users.id"))


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
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_executions.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(Text, ForeignKey("users.id"), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    is_internal: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"), default=True)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)


class ActivityLog(Base):
    __tablename__ = "activity_log"
    __table_args__ = (
        Index("idx_activity_org", "org_id"),
        Index("idx_activity_entity", "entity_type", "entity_id"),
        Index("idx_activity_time", text("created_at DESC")),
        Index("idx_activity_org_time", "org_id", text("created_at DESC")),
        Index("idx_activity_timeouts", "org_id", "created_at", postgresql_where=text("action = 'step_timed_out'")),
        Index("idx_activity_workflow_execution", "workflow_execution_id",
              postgresql_where=text("workflow_execution_id IS NOT NULL")),
        Index("idx_activity_contact", "contact_id", postgresql_where=text("contact_id IS NOT NULL")),
        Index("idx_activity_task", "task_id", postgresql_where=text("task_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    user_id: Mapped[str | None] = mapped_column(Text, ForeignKey("users.id"))
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_executions.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"), default=dict)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)


class FormstackConfig(Base):
    __tablename__ = "formstack_config"

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = mapped_column(Text, ForeignKey("organizations.id"), nullable=False, unique=True)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    field_mappings: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'"), default=dict)
    default_workflow_definition_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_definitions.id"))
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


class FormstackSubmission(Base):
    __tablename__ = "formstack_submissions"
    __table_args__ = (
        UniqueConstraint("org_id", "submission_id"),
        Index("idx_formstack_org", "org_id"),
        Index("idx_formstack_processed", "processed", postgresql_where=text("NOT processed")),
        Index("idx_formstack_pending", "org_id", "created_at", postgresql_where=text("NOT processed AND error IS NULL")),
    )

    id: Mapped[uuid.UUID] = _id()
    org_id: Mapped[str] = _org()
    form_id: Mapped[str] = mapped_column(Text, nullable=False)
    submission_id: Mapped[str] = mapped_column(Text, nullable=False)
    raw_payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    processed: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"), default=False)
    workflow_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow_executions.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=NOW)
    duplicate_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"), default=0)
    last_received_at: Mapped[datetime | None] = mapped_column(TZ)
    processed_at: Mapped[datetime | None] = mapped_column(TZ)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("contacts.id"))
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
