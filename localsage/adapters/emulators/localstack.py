"""LocalStack as an opt-in emulator: the user runs it (with LOCALSTACK_AUTH_TOKEN); the toolkit only checks it."""

from __future__ import annotations

import os

import requests

from localsage.adapters.emulators.base import Emulator, Status, loopback_http
from localsage.errors import UserError


class LocalStackEmulator(Emulator):
    kind = "localstack"

    def status(self) -> Status:
        endpoint = self.settings.localstack_endpoint
        try:
            health = loopback_http.get(f"{endpoint}/_localstack/health", timeout=2)
        except requests.RequestException:
            return Status("stopped", f"nothing answers at {endpoint}")
        if health.status_code == 200:
            return Status("external", f"LocalStack answers at {endpoint}", endpoint=endpoint)
        return Status("unhealthy", f"LocalStack at {endpoint} answered HTTP {health.status_code}")

    def up(self) -> Status:
        if not os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            raise UserError(
                "emulator.kind is localstack but LOCALSTACK_AUTH_TOKEN is not set: LocalStack images need "
                'an auth token since 2026-03; set it, or use the embedded emulator (emulator.kind = "moto")'
            )
        current = self.status()
        if not current.healthy:
            raise UserError(
                f"{current.detail}: start LocalStack yourself (e.g. 'docker compose --profile localstack up -d' "
                "in docker/), or use the embedded emulator"
            )
        return current

    def down(self) -> str:
        return "emulator.kind is localstack: it runs outside this project, stop it where you started it"

    def reset(self) -> str:
        raise UserError("emulator.reset only resets the embedded moto server; reset LocalStack yourself")
