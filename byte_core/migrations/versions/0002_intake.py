"""Intake: verification settings and per-form overrides on formstack_config; delivery bookkeeping on
formstack_submissions. The seed's columns and UNIQUE(org_id) stay: one intake configuration per org,
with per-form mappings and workflows inside it.

Revision ID: 0002
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = """
ALTER TABLE formstack_config ADD COLUMN IF NOT EXISTS handshake_key TEXT;
ALTER TABLE formstack_config ADD COLUMN IF NOT EXISTS signature_header TEXT NOT NULL DEFAULT 'X-FS-Signature';
ALTER TABLE formstack_config ADD COLUMN IF NOT EXISTS form_settings JSONB NOT NULL DEFAULT '{}';
ALTER TABLE formstack_config ADD COLUMN IF NOT EXISTS sample_payload JSONB;
ALTER TABLE formstack_submissions ADD COLUMN IF NOT EXISTS duplicate_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE formstack_submissions ADD COLUMN IF NOT EXISTS last_received_at TIMESTAMPTZ;
ALTER TABLE formstack_submissions ADD COLUMN IF NOT EXISTS processed_at TIMESTAMPTZ;
ALTER TABLE formstack_submissions ADD COLUMN IF NOT EXISTS contact_id UUID REFERENCES contacts(id);
ALTER TABLE formstack_submissions ADD COLUMN IF NOT EXISTS mapped JSONB;
CREATE INDEX IF NOT EXISTS idx_formstack_pending ON formstack_submissions(org_id, created_at)
  WHERE NOT processed AND error IS NULL;
"""


def upgrade() -> None:
    op.execute(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("restore from a backup instead")
