"""People and roles: add, list and remove users; argon2id password hashes.

>>> check_role("admin")
Traceback (most recent call last):
...
journeymap.errors.InputError: Role 'admin' is not one of viewer, commenter, editor, owner; pick one of them.
"""

from __future__ import annotations

import re
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from journeymap.errors import InputError
from journeymap.web.db import ROLES, Database, User, audit

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory profile
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# a valid hash to verify against for unknown emails, so a wrong email costs as long as a wrong password
_DUMMY = _hasher.hash("journeymap-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    try:
        return _hasher.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"Role {role!r} is not one of {', '.join(ROLES)}; pick one of them.")
    return role


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InputError(f"{email!r} is not an email address; give one like name@example.com.")
    return email.lower()


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters; choose another.")
    return password


def add_user(db: Database, email: str, role: str, password: str, *, by: str | None = None) -> dict[str, Any]:
    """Create a user; the email must be new."""
    email, role, password = check_email(email), check_role(role), check_password(password)
    with db.sessions() as s:
        if s.scalar(select(User).where(User.email == email)) is not None:
            raise InputError(f"A user {email!r} exists already; remove it first or choose another email.")
        user = User(email=email, role=role, password_hash=hash_password(password))
        s.add(user)
        audit(s, by, "user.add", email=email, role=role)
        s.commit()
        return describe(user)


def set_role(db: Database, email: str, role: str, *, by: str | None = None) -> dict[str, Any]:
    email, role = check_email(email), check_role(role)
    with db.sessions() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            raise InputError(f"No user {email!r}; list them with: journeymap users list.")
        old, user.role = user.role, role
        audit(s, by, "user.role", email=email, old=old, role=role)
        s.commit()
        return describe(user)


def remove_user(db: Database, email: str, *, by: str | None = None) -> None:
    email = check_email(email)
    with db.sessions() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            raise InputError(f"No user {email!r}; list them with: journeymap users list.")
        s.delete(user)
        audit(s, by, "user.remove", email=email)
        s.commit()


def list_users(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as s:
        return [describe(u) for u in s.scalars(select(User).order_by(User.email))]


def describe(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "created": user.created.isoformat(timespec="seconds") + "Z"}
