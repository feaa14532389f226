"""Who is acting, and the role check every service repeats (hiding a page is not security)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PermissionDenied

ROLES = ("admin", "manager", "reviewer", "hr")
ROLE_LABELS = {"admin": "Admin", "manager": "Manager", "reviewer": "Reviewer", "hr": "HR"}


def queue_label(role: str | None) -> str:
    """A role's task queue as people name it: 'hr' -> 'HR queue' (not 'Hr queue'); None -> 'a person'."""
    if not role:
        return "a person"
    return f"{ROLE_LABELS.get(role, role.replace('_', ' ').title())} queue"


@dataclass(frozen=True)
class Actor:
    org_id: str
    user_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    email: str | None = None

    @classmethod
    def system(cls, org_id: str, label: str = "system") -> "Actor":
        """The scheduler, intake and command-line operators: trusted, acting as admin."""
        return cls(org_id=org_id, user_id=None, roles=frozenset(ROLES), email=label)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def label(self) -> str:
        return self.email or self.user_id or "system"


def require_role(actor: Actor, *roles: str) -> None:
    if not actor.has_any(*roles):
        wanted = " or ".join(ROLE_LABELS.get(r, r) for r in roles)
        raise PermissionDenied(f"this needs the {wanted} role; {actor.label} does not have it")
