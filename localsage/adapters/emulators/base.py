"""What every local AWS emulator offers the toolkit: status, start, stop, reset, and an endpoint on demand."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localsage.adapters import loopback
from localsage.facts import config as project_config

loopback_http = loopback.http


@dataclass(frozen=True)
class Status:
    """`state` is one of running, starting, stopped, stale, unhealthy, external; `record` is the kind's own."""

    state: str
    detail: str
    record: object | None = None
    rss_mb: float | None = None
    endpoint: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state in ("running", "external")


class Emulator(ABC):
    """Lifecycle of one project's emulator; its files live under `<state>/emulator/`."""

    kind: str

    def __init__(
        self,
        root: Path,
        settings: project_config.EmulatorSettings,
        say: Callable[[str], None] = print,
        region: str = project_config.ProjectConfig.region,
    ):
        self.root = root
        self.settings = settings
        self.say = say
        self.region = region
        self.folder = project_config.local_dir(root) / "emulator"
        self.folder.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def status(self) -> Status: ...

    def process(self) -> tuple[int, float] | None:
        """The emulator's PID and start time when this toolkit runs it (what its companions live as long as)."""
        return None

    @abstractmethod
    def up(self) -> Status:
        """Make the emulator answer (start it, or check the one the user runs); idempotent."""

    @abstractmethod
    def down(self) -> str:
        """Stop the emulator if this project started it; a sentence saying what happened."""

    @abstractmethod
    def reset(self) -> str:
        """Forget every resource; a sentence saying what happened."""

    def endpoint(self) -> str:
        """The endpoint of a healthy emulator, starting one when needed (tasks call this on demand)."""
        current = self.status()
        if not current.healthy:
            current = self.up()
            self.say(f"emulator: {current.detail} at {current.endpoint}")
        return current.endpoint

    def relative(self, path: Path) -> str:
        """`path` as messages show it: relative to the project when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
