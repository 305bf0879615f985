"""Who may use the web app. On a loopback address a typed name is identity enough (only this
machine reaches it); on any other address `recteam serve` refuses to start without logins, and
with logins a person is who they signed in as.

Logins come from ui.auth_file (one `user:password` or `user:scrypt$...` per line, '#' comments)
and ui.auth (`user:password,user2:password2`, e.g. RECTEAM_UI__AUTH). A stored password may be
plain or an scrypt hash: scrypt is in Python's standard library (hashlib, backed by OpenSSL), is
memory-hard, and is one of the password hashes OWASP recommends, so hashing needs no extra
dependency. Make a hashed line with `python -m recteam.ui.auth NAME`.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import hmac
import ipaddress
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from recteam.errors import ConfigError, RecteamError

__all__ = ["Logins", "hash_password", "is_loopback", "load_logins", "require_logins_off_loopback"]

# OWASP's minimum for scrypt: N=2^17, r=8, p=1 (128 MiB, ~0.3 s a check on this machine).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SCRYPT_PREFIX = "scrypt$"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=32
    )


def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64), for an auth file."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCRYPT_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _check_stored(stored: str, origin: str) -> None:
    """Stops start-up on a malformed hash (rather than refusing every login later)."""
    if not stored.startswith(SCRYPT_PREFIX):
        return
    try:
        n, r, p, salt, digest = stored[len(SCRYPT_PREFIX) :].split("$")
        if int(n) < 2 or int(r) < 1 or int(p) < 1:
            raise ValueError
        for part in (salt, digest):
            base64.b64decode(part, validate=True)
    except ValueError:
        raise ConfigError(
            f"{origin}: the password hash is not 'scrypt$N$r$p$salt$hash' "
            "(make one with `python -m recteam.ui.auth NAME`)"
        ) from None


def _matches(password: str, stored: str) -> bool:
    if not stored.startswith(SCRYPT_PREFIX):
        return hmac.compare_digest(password.encode("utf-8"), stored.encode("utf-8"))
    n, r, p, salt, digest = stored[len(SCRYPT_PREFIX) :].split("$")
    got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass
class Logins:
    """User name -> stored password (plain or scrypt hash)."""

    users: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.users)

    async def check(self, username: str, password: str) -> bool:
        """Gradio's `auth` callable: a hash is checked in a thread, not on the event loop."""
        stored = self.users.get(username)
        if stored is None:
            return False
        return await asyncio.to_thread(_matches, password, stored)


def _parse(entries: list[tuple[str, str]], logins: Logins) -> None:
    """`entries`: (origin for messages, 'user:password')."""
    for origin, entry in entries:
        user, sep, stored = entry.partition(":")
        user = user.strip()
        if not sep or not user or not stored:
            raise ConfigError(f"{origin}: a login must be 'user:password', got {user or entry!r}")
        if user in logins.users:
            raise ConfigError(f"{origin}: user {user!r} is given twice")
        _check_stored(stored, origin)
        logins.users[user] = stored


def load_logins(auth_file: Path | None, auth: str | None) -> Logins:
    """The logins of ui.auth_file and ui.auth together; ConfigError names a bad line."""
    entries: list[tuple[str, str]] = []
    if auth_file is not None:
        path = auth_file.expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"ui.auth_file: cannot read {path} ({exc.strerror})") from None
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                entries.append((f"ui.auth_file {path}:{number}", line.strip()))
    if auth:
        entries += [(f"ui.auth entry {i}", e.strip()) for i, e in enumerate(auth.split(","), 1)]
    logins = Logins()
    _parse(entries, logins)
    if auth_file is not None and not logins:
        raise ConfigError(f"ui.auth_file: {auth_file} holds no 'user:password' line")
    return logins


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address: 127.0.0.0/8, ::1 or 'localhost'."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # another host name may resolve to any address


def require_logins_off_loopback(host: str, logins: Logins) -> None:
    if not logins and not is_loopback(host):
        raise RecteamError(
            f"the web app would listen on {host}, which other machines can reach, and "
            "identity by a typed name is safe only on 127.0.0.1: set logins in ui.auth_file "
            "(lines 'user:password') or ui.auth (RECTEAM_UI__AUTH='user:password'), or set "
            "ui.host (or --host) to 127.0.0.1"
        )


def main(argv: list[str]) -> int:
    """`python -m recteam.ui.auth NAME`: asks for a password and prints the auth-file line."""
    if len(argv) != 1 or ":" in argv[0] or not argv[0].strip():
        print("usage: python -m recteam.ui.auth NAME  (a name without ':')", file=sys.stderr)
        return 2
    password = getpass.getpass(f"Password for {argv[0]}: ")
    if not password or password != getpass.getpass("The same again: "):
        print("The passwords were empty or differed; nothing printed.", file=sys.stderr)
        return 1
    print(f"{argv[0]}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
