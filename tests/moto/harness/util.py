"""Small helpers shared by the harness modules: times, deterministic ids, errors."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from datetime import datetime, timezone
from typing import Any


class SpecError(ValueError):
    """A seed, back-date, fault or event spec is invalid (answered with HTTP 400)."""


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time ("2024-05-01T12:00:00Z", offset optional) or epoch seconds, as the
    naive-UTC datetime moto stores everywhere (moto.core.utils.utcnow is naive UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
    if not isinstance(value, str):
        raise SpecError(f"{what}: expected an ISO 8601 time or epoch seconds, got {value!r}")
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise SpecError(f"{what}: not an ISO 8601 time: {value!r}") from err
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def optional_time(value: Any, what: str) -> datetime | None:
    """Like parse_time, but null / absent / "never" mean no time."""
    if value is None or value == "never":
        return None
    return parse_time(value, what)


def epoch(dt: datetime) -> float:
    """Epoch seconds of a naive-UTC datetime."""
    return dt.replace(tzinfo=timezone.utc).timestamp()


def iso_z(dt: datetime) -> str:
    """"2024-05-01T12:00:00Z" (what CloudTrail writes in eventTime)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_hex(*parts: Any, length: int = 32) -> str:
    """A deterministic hex string derived from the parts (for ids moto does not make)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:length]


def stable_uuid(*parts: Any) -> str:
    """A deterministic UUID-shaped id derived from the parts."""
    h = stable_hex(*parts)
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def stable_key_id(prefix: str, *parts: Any, length: int = 20) -> str:
    """A deterministic AWS-looking id ("AKIA..."/"AIDA...") derived from the parts."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    body = "".join(_B32[b % 32] for b in digest)
    return (prefix + body)[:length]


_nonces = itertools.count(1)


def nonce() -> int:
    """A new number per call. An injected empty page puts one in its token: the AWS SDK for
    Rust's paginators stop when a page's token equals the one sent (stop_on_duplicate_token)."""
    return next(_nonces)


def encode_token(payload: dict[str, Any]) -> str:
    """An opaque pagination token."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    """The payload of a token made by encode_token, or None when it is not one."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None
