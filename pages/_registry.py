"""Every page, and which roles may open it: the one place navigation is decided."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
ALL = frozenset({"admin", "manager", "reviewer", "hr"})


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    roles: frozenset[str]
    section: str


PAGES = [
    PageSpec("home.py", "Home", ":material/home:", "home", ALL, "Work"),
    PageSpec("tasks.py", "Task inbox", ":material/task_alt:", "tasks", ALL, "Work"),
    PageSpec("contacts.py", "Contacts", ":material/contacts:", "contacts", ALL, "Work"),
    PageSpec("executions.py", "Executions", ":material/account_tree:", "executions", ALL, "Work"),
    PageSpec("analytics.py", "Analytics", ":material/monitoring:", "analytics", frozenset({"manager", "admin"}), "Insight"),
    PageSpec("activity.py", "Activity log", ":material/history:", "activity", frozenset({"manager", "admin"}), "Insight"),
    PageSpec("workflows.py", "Workflows", ":material/schema:", "workflows", frozenset({"admin"}), "Admin"),
    PageSpec("intake.py", "Intake", ":material/input:", "intake", frozenset({"admin"}), "Admin"),
    PageSpec("users.py", "Users", ":material/group:", "users", frozenset({"admin"}), "Admin"),
    PageSpec("notifications.py", "Notifications", ":material/notifications:", "notifications", ALL, "Account"),
    PageSpec("integrations.py", "Integrations", ":material/webhook:", "integrations", frozenset({"admin"}), "Admin"),
    PageSpec("account.py", "My account", ":material/person:", "account", ALL, "Account"),
]


def pages_for(roles: frozenset[str]) -> list[PageSpec]:
    return [p for p in PAGES if p.roles & roles and (HERE / p.file).exists()]


def restricted_for(roles: frozenset[str]) -> list[PageSpec]:
    """Pages that exist but these roles may not open (their URLs answer "no access")."""
    return [p for p in PAGES if not p.roles & roles and (HERE / p.file).exists()]
