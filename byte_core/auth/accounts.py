"""What sign-in and sessions share: the actor a user row stands for, and the audit of account events."""
from __future__ import annotations

import uuid

from .. import activity
from ..access import Actor
from ..models import User


def user_entity_id(user_id: str) -> uuid.UUID:
    # activity_log.entity_id is a UUID while user ids are text: one stable UUID per user id.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"byte:user:{user_id}")


def actor_of(user: User) -> Actor:
    return Actor(user.org_id, user.id, frozenset(user.roles or []), user.email)


def audit_account(session, user: User, action: str, details: dict, by: Actor | None = None) -> None:
    """One activity row about `user`'s account, in the caller's transaction (who did it: `by`, else the user)."""
    activity.record(session, entity_type="user", entity_id=user_entity_id(user.id), action=action,
                    details=details, user_id=by.user_id if by is not None else user.id)
