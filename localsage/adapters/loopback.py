"""Talking to servers the toolkit starts on this machine: a free port on the loopback, and an HTTP session that
never goes through a proxy the user may have set (HTTP(S)_PROXY would send loopback calls elsewhere)."""

from __future__ import annotations

import socket

import requests

HOST = "127.0.0.1"

http = requests.Session()
http.trust_env = False


def free_port() -> int:
    """A port nothing listens on now (the caller's server binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
