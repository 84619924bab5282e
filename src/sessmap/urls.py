"""Server store URLs: masking passwords, and the query parameters sessmap keeps for itself.

Both server stores take a driver URL (``postgresql://…``, ``redis://…``) that may carry a
password and may carry sessmap-only parameters the driver would reject (``?prefix=…``).
Everything shown to people goes through ``mask_password`` or ``redact`` first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import timedelta
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from sessmap.durations import parse_duration
from sessmap.errors import InvalidInput

MASK = "***"
# Query parameters that carry secrets in libpq and redis-py URLs.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def mask_password(url: str) -> str:
    """``url`` with every password (in the user info or the query) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in _SECRET_PARAMETERS for name, _ in pairs):
            masked = [(name, MASK if name.lower() in _SECRET_PARAMETERS else value) for name, value in pairs]
            query = urlencode(masked, safe="*/:,")
    return _unsplit(url, parts, netloc, query)


def passwords_in(url: str) -> list[str]:
    """Every password ``url`` carries, raw and percent-decoded, for scrubbing driver messages."""
    parts = urlsplit(url)
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in _SECRET_PARAMETERS:
            found.append(quote(value, safe=""))
            found.append(value)
    decoded = [unquote(secret) for secret in found]
    return sorted({secret for secret in found + decoded if secret}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so none leaks in part)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def pop_parameters(url: str, names: Collection[str]) -> tuple[str, dict[str, str]]:
    """Split sessmap's own query parameters off ``url``; the rest goes to the driver untouched.

    Returns the URL without them and their values (the last one wins when repeated).
    """
    parts = urlsplit(url)
    if not parts.query:
        return url, {}
    kept: list[str] = []
    ours: dict[str, str] = {}
    # Walk the raw "a=b" pieces so the driver's parameters keep their exact spelling.
    for piece in parts.query.split("&"):
        name = unquote(piece.partition("=")[0])
        if name in names:
            ours[name] = unquote(piece.partition("=")[2])
        elif piece:
            kept.append(piece)
    return _unsplit(url, parts, parts.netloc, "&".join(kept)), ours


def _unsplit(url: str, parts: SplitResult, netloc: str, query: str) -> str:
    """``url`` again with ``netloc`` and ``query`` replaced. Not ``urlunsplit``: it drops the
    ``//`` of an empty host, and libpq reads ``postgresql:///db?host=/run/postgresql`` (a Unix
    socket) but not ``postgresql:/db?…``."""
    text = f"{parts.scheme}:"
    if netloc or url[len(parts.scheme) + 1 :].startswith("//"):
        text += f"//{netloc}"
    text += parts.path
    if query:
        text += f"?{query}"
    if parts.fragment:
        text += f"#{parts.fragment}"
    return text


def duration_parameter(name: str, text: str) -> timedelta:
    """A duration URL parameter: ``30s``, ``5m``, or a bare number of seconds (``2.5``)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_duration(text).total_seconds()
    if not 0 < seconds <= 86_400:
        raise InvalidInput(f"invalid {name}={text!r}: give a duration between 0 and 1d, like 30s")
    return timedelta(seconds=seconds)


def check_redis_database(url: str) -> None:
    """Refuse a Redis URL whose database number is not one: redis-py reads ``redis://h/abc``
    as database 0 and ``redis://h/3/4`` as 34, so a typo would write to another database."""
    parts = urlsplit(url)
    path = parts.path.removeprefix("/")
    given = [("path", path)] if path else []
    given += [("db", value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name == "db"]
    for where, value in given:
        if not (value.isascii() and value.isdigit()):
            shown = f"/{value}" if where == "path" else f"db={value}"
            raise InvalidInput(
                f"invalid Redis database {shown!r} in {mask_password(url)}: give a number, like /0"
            )
