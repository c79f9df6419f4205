"""Password hashing, with argon2id (argon2-cffi). argon2 is used here and only here."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import InvalidInputError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # a longer "password" is an attempt to make hashing expensive, not a password

# argon2-cffi's defaults are RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes): 125 ms
# to hash or verify on this project's 2-core machine, with 64 MiB for the duration: fine for a few
# logins at a time on a 1 GB server, and the login rate limit keeps it to a few.
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    check_password(password)
    return _HASHER.hash(password)


def check_password(password: str) -> None:
    """A password someone chose: long enough, not absurdly long."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"a password has at most {MAX_LENGTH} characters")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; never raises for a wrong password or a damaged hash."""
    if not password_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker settings than today's: rehash it at the next login."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def dummy_verify(password: str) -> None:
    """Spend a verification's time for an unknown user name, so timing does not tell names apart."""
    verify_password(_dummy_hash(), password[:MAX_LENGTH])


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("not anyone's password")  # made at first use: every CLI start would pay it
