"""What counts as a loopback endpoint: the one rule the safety rail, the config check and the emulator share.

An endpoint is parsed the way the HTTP client parses it before it connects (urllib3, which botocore and
requests use), and anything two parsers could read differently is refused outright: user information (`@`),
backslashes, percent-escapes in the host, white space and control characters. So the host that is checked is
the host that is connected to.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_AMBIGUOUS = ("@", "\\", "%")


def loopback_problem(url: str) -> str | None:
    """Why `url` is not a plain loopback endpoint, or None when it is one."""
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    if any(character in authority for character in _AMBIGUOUS) or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return "its host part holds characters parsers disagree on (@, \\, %, spaces or control characters)"
    try:
        parsed = parse_url(url)
    except LocationParseError:
        return "it does not parse as a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "it is not an http(s) URL with a host"
    host = parsed.host.strip("[]").lower()
    if host != (urlsplit(url).hostname or "").lower():
        return "its host is read differently by different parsers"
    if host in LOOPBACK_NAMES:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f"its host {host} is not a loopback address"


def is_loopback_url(url: str) -> bool:
    return loopback_problem(url) is None
