"""Password hashing with scrypt (a memory-hard KDF from the standard library).

The work factor meets OWASP's scrypt minimum (N=2^17, r=8, p=1 or an equivalent) in the variant with the least
memory: N=2^14, r=8, p=5 takes 16 MiB per hash (the p lanes run one after the other) and about 0.15 s of one core.
Hashes made with other parameters still verify (the parameters are stored with each hash); `needs_rehash` tells
when a stored hash is weaker than today's parameters, so a successful login can store a stronger one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 5
SALT_BYTES, KEY_BYTES = 16, 32
# What verify_password accepts from a stored hash: enough for any sensible setting, never a memory or CPU bomb.
MAX_N, MAX_R, MAX_P = 2**20, 32, 64
MAXMEM = 256 * 1024 * 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=MAXMEM)


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form scrypt$n$r$p$salt$hash (salt and hash in base64)."""
    if not password:
        raise ValueError("a password may not be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, KEY_BYTES)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def _parse(stored) -> tuple[int, int, int, bytes, bytes] | None:
    """(n, r, p, salt, digest) of a stored hash, or None when it is not one Alur can check safely."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        salt, digest = base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except (AttributeError, ValueError, TypeError, binascii.Error):
        return None
    if kind != "scrypt" or not (1 < n <= MAX_N and n & (n - 1) == 0 and 0 < r <= MAX_R and 0 < p <= MAX_P):
        return None
    if not salt or not 16 <= len(digest) <= 64:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; constant-time comparison; False (never an error) for a bad hash."""
    parsed = _parse(stored)
    if parsed is None or not isinstance(password, str):
        return False
    n, r, p, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError, UnicodeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True when `stored` was made with less work or memory than today's parameters (or cannot be read)."""
    parsed = _parse(stored)
    if parsed is None:
        return True
    n, r, p, salt, digest = parsed
    return n * r * p < N * R * P or n * r < N * R or len(salt) < SALT_BYTES or len(digest) < KEY_BYTES


def describe(stored: str) -> str:
    """The parameters of a stored hash, for the audit trail (never the salt or the hash)."""
    parsed = _parse(stored)
    return f"scrypt n={parsed[0]} r={parsed[1]} p={parsed[2]}" if parsed else "unreadable"
