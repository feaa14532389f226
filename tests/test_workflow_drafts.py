"""An admin's unpublished draft of a workflow definition (issue [E]): kept per admin until published or discarded."""
from __future__ import annotations

import pytest

from sqlalchemy import select

from byte_core.auth.login import actor_of
from byte_core.errors import PermissionDenied
from byte_core.models import ActivityLog
from byte_core.users import add_user
from byte_core.workflow.drafts import NEW_DEFINITION, discard_draft, load_draft, save_draft


def _admin(database, actor, name: str, roles: str = "admin"):
    return actor_of(add_user(database, actor, f"{name}@{actor.org_id}.example.com", roles, password=None))


def test_a_draft_is_kept_per_admin_replaced_and_discarded_with_an_activity_row(database, actor):
    ann, bob = _admin(database, actor, "ann"), _admin(database, actor, "bob")
    save_draft(database, ann, NEW_DEFINITION, {"name": "First", "steps": []})
    save_draft(database, ann, NEW_DEFINITION, {"name": "Second", "steps": []})
    save_draft(database, ann, "Loan", {"name": "Loan", "steps": [1]})
    assert load_draft(database, ann, NEW_DEFINITION) == {"name": "Second", "steps": []}
    assert load_draft(database, bob, NEW_DEFINITION) is None  # Bob's drafts are his own
    assert discard_draft(database, ann, NEW_DEFINITION) is True
    assert load_draft(database, ann, NEW_DEFINITION) is None and load_draft(database, ann, "Loan") is not None
    assert discard_draft(database, ann, NEW_DEFINITION) is False
    assert discard_draft(database, ann, "Loan", published=True) is True
    with database.session(actor.org_id) as session:
        actions = list(session.scalars(select(ActivityLog.action).where(ActivityLog.entity_type == "workflow_draft")))
    assert actions.count("draft_discarded") == 1  # publishing is logged as the new version, not as a discard


def test_only_admins_keep_drafts(database, actor):
    reviewer = _admin(database, actor, "rita", roles="reviewer")
    with pytest.raises(PermissionDenied):
        save_draft(database, reviewer, NEW_DEFINITION, {"name": "x"})
