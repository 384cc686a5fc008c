"""Rules for URLs Gavel is given: a URL must not carry a user name or password.

A password in a URL ends up wherever the URL goes (config files, the cache, logs,
error messages, screenshots); Gavel keeps secrets in the keyring or an environment
variable instead, so such a URL is refused before it is stored or echoed anywhere.
"""

from __future__ import annotations

import re

from app.domain.errors import UsageError

# The authority ends at the first '/', '?' or '#' after the scheme (RFC 3986 §3.2).
_AUTHORITY_END = re.compile(r"[/?#]")


def _userinfo(url: str) -> str | None:
    """The part before '@' in the URL's authority, or None when there is none.

    Also finds it when the scheme is missing ("ana:pw@host:5000"), so a URL that
    fails other checks is never echoed back with its password.
    """
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" not in authority:
        return None
    return authority.rsplit("@", 1)[0]


def reject_credentials_in_url(
    url: str,
    what: str,
    instead: str = "give them in Gavel's own fields",
    *,
    allow_user: bool = False,
) -> None:
    """Raise UsageError when url carries a user name or password; the URL is not echoed.

    what: how the sentence names the URL ("The registry URL"). instead: what to do
    rather than put them in the URL ("use --username/--password-env"). allow_user:
    accept a bare user name (postgresql://ana@host/db) and refuse only a password.
    """
    userinfo = _userinfo(url)
    if userinfo is None:
        return
    if allow_user and ":" not in userinfo:
        return
    if allow_user:
        raise UsageError(f"{what} contains a password; give the URL without it and {instead}.")
    raise UsageError(
        f"{what} contains a user name or password; give the URL without them and {instead}."
    )
