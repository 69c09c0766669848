"""A Postgres and a Redis of a benchmark's own, under var/ on ports of their own (started and
stopped by scripts/services under the benchmark's owner name), so restarting or emptying them
never touches the machine's services or a running farm's."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "scripts" / "services"


@dataclass(frozen=True)
class PrivateServices:
    """Private servers for `owner` (a name like "chaos"): Postgres on `pg_port` with database
    `database`, Redis on `redis_port` (no persistence: restarted, it comes back empty)."""

    owner: str
    pg_port: int
    redis_port: int
    database: str = "tower"
    listen: str = ""  # one more address both listen on (a veth's), besides loopback
    trust: str = ""  # a CIDR Postgres trusts, for clients behind that address

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{self.database}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def up(self, service: str | None = None) -> None:
        """Start both (or the named one) unless already running."""
        self._services("up", service)

    def down(self, service: str | None = None) -> None:
        """Stop both (or the named one), if this owner started it."""
        self._services("down", service)

    def restart(self, service: str) -> None:
        """Stop and start one of them ("postgres" or "redis")."""
        self.down(service)
        self.up(service)

    def _services(self, command: str, service: str | None) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SERVICES_OWNER": self.owner,
            "SERVICES_LISTEN": self.listen,
            "SERVICES_TRUST": self.trust,
        }
        args = [str(SERVICES), command, *([service] if service else [])]
        subprocess.run(args, env=env, check=True, cwd=ROOT, timeout=180)
