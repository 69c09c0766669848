"""Settings: the only code that reads the environment.

Every process builds one frozen Settings from the environment at start-up; a missing or
malformed variable stops it with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared import keys
from shared.errors import ConfigError
from shared.settings_catalog import SPECS

ENVIRONMENTS = ("development", "test", "production")

# (variable, default, meaning); the README's configuration table states the same facts.
DEFAULTS: dict[str, tuple[str, str]] = {
    "TOWER_ENV": ("development", "development, test or production"),
    "DATABASE_URL": ("postgresql://postgres@127.0.0.1:5432/tower", "Postgres database"),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", "Redis server (progress bus, locks)"),
    "CELERY_BROKER_URL": ("REDIS_URL database 1", "Celery broker"),
    "CELERY_RESULT_BACKEND": ("REDIS_URL database 2", "Celery result backend"),
    "BROKER_KEY_PREFIX": ("", "prefix of every broker key, so farms can share one Redis database"),
    "ARTIFACT_ROOT": ("./var/artifacts", "folder every node mounts for outputs"),
    "SECRET_KEY": ("generated", "signs sessions and tokens; generated once per install when unset"),
    "TOWER_SECRETS_DIR": ("./var/secrets", "where generated secrets are kept (0600)"),
    "FLOWER_BASIC_AUTH": ("generated", "Flower's user:password; required in production"),
    "TRUSTED_PROXIES": ("0", "reverse proxies in front of the web app whose X-Forwarded-* count"),
    "COMFYUI_URL": ("http://127.0.0.1:8188", "the ComfyUI server a GPU worker drives"),
    "WORKER_NODE": ("", "this GPU worker's node name (queue gpu.<node>); default: hostname"),
    "WEB_PORT": ("5000", "web app port"),
    "FLOWER_PORT": ("5555", "Flower port"),
    "FLOWER_URL": ("http://127.0.0.1:FLOWER_PORT/", "where the dashboard links to Flower"),
    "EMULATOR_PORT": ("8188", "port of the Procfile's ComfyUI emulator"),
    "SWEEP_EVERY_S": ("5", "how often beat runs the sweeper (expired leases, lost messages)"),
    "NODE_WAIT_S": (
        "600",
        "how long a GPU stage waits for a capable backend to come online before it fails",
    ),
}


@dataclass(frozen=True)
class Settings:
    """Typed, frozen configuration of one Tower process."""

    env: str = "development"
    database_url: str = DEFAULTS["DATABASE_URL"][0]
    redis_url: str = DEFAULTS["REDIS_URL"][0]
    broker_url: str = ""
    result_backend: str = ""
    broker_key_prefix: str = ""
    artifact_root: Path = field(default_factory=lambda: Path("var/artifacts").resolve())
    secrets_dir: Path = field(default_factory=lambda: Path("var/secrets").resolve())
    secret_key: str = ""
    flower_basic_auth: str = ""
    trusted_proxies: int = 0
    comfyui_url: str = DEFAULTS["COMFYUI_URL"][0]
    worker_node: str = ""
    web_port: int = 5000
    flower_port: int = 5555
    flower_url: str = ""
    sweep_every_s: float = 5.0
    # Farm settings' defaults given by their environment variables (by setting name); the
    # values in effect are shared.settings_store's.
    setting_defaults: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.broker_url:
            object.__setattr__(self, "broker_url", redis_db_url(self.redis_url, 1))
        if not self.result_backend:
            object.__setattr__(self, "result_backend", redis_db_url(self.redis_url, 2))
        if not self.flower_url:
            object.__setattr__(self, "flower_url", f"http://127.0.0.1:{self.flower_port}/")

    @property
    def is_production(self) -> bool:
        """True when running for real users (secrets must be set)."""
        return self.env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL with the psycopg2 driver named (SQLAlchemy 2.1 defaults to psycopg 3)."""
        scheme, sep, rest = self.database_url.partition("://")
        return f"postgresql+psycopg2{sep}{rest}" if scheme == "postgresql" else self.database_url

    def as_environ(self) -> dict[str, str]:
        """The environment variables that rebuild these settings in a child process."""
        return {
            "TOWER_ENV": self.env,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_RESULT_BACKEND": self.result_backend,
            "BROKER_KEY_PREFIX": self.broker_key_prefix,
            "ARTIFACT_ROOT": str(self.artifact_root),
            "TOWER_SECRETS_DIR": str(self.secrets_dir),
            "SECRET_KEY": self.secret_key,
            "FLOWER_BASIC_AUTH": self.flower_basic_auth,
            "TRUSTED_PROXIES": str(self.trusted_proxies),
            "COMFYUI_URL": self.comfyui_url,
            "WORKER_NODE": self.worker_node,
            "WEB_PORT": str(self.web_port),
            "FLOWER_PORT": str(self.flower_port),
            "FLOWER_URL": self.flower_url,
            "SWEEP_EVERY_S": f"{self.sweep_every_s:g}",
            **{
                SPECS[name].variable: SPECS[name].render(value)
                for name, value in self.setting_defaults.items()
            },
        }

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests pass overrides this way)."""
        return replace(self, **changes)

    def require_secure(self) -> None:
        """Stop a process that would sign with an empty or known key (or, in production, a
        short one or one with whitespace around it).

        :raises ConfigError: naming SECRET_KEY.
        """
        problem = keys.secret_key_problem(self.secret_key, production=self.is_production)
        if problem:
            raise ConfigError(problem)

    def flower_login(self) -> str:
        """Flower's `user:password`: FLOWER_BASIC_AUTH, or outside production one generated
        once for this install.

        :raises ConfigError: naming FLOWER_BASIC_AUTH when it is missing in production, known
            or malformed.
        """
        login = self.flower_basic_auth
        if not login and self.is_production:
            raise ConfigError("FLOWER_BASIC_AUTH must be set (user:password) in production")
        if not login:
            login = keys.read_or_create(
                self.secrets_dir / keys.FLOWER_LOGIN_FILE,
                keys.generate_flower_login,
                "FLOWER_BASIC_AUTH",
            )
        problem = keys.flower_login_problem(login)
        if problem:
            raise ConfigError(problem)
        return login

    def demo_password(self) -> str:
        """The password `make demo` gives its operator account, generated once for this
        install (a demo farm has no password anyone could know).

        :raises ConfigError: when it cannot be kept private.
        """
        return keys.read_or_create(
            self.secrets_dir / keys.DEMO_PASSWORD_FILE, keys.generate_password, "DEMO_PASSWORD"
        )


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server as `url`, database number `db`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment.

    :raises ConfigError: naming the variable that is malformed.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(name, "").strip()

    tower_env = get("TOWER_ENV") or "development"
    if tower_env not in ENVIRONMENTS:
        raise ConfigError(f"TOWER_ENV must be one of {', '.join(ENVIRONMENTS)}, not {tower_env!r}")
    secrets_dir = Path(get("TOWER_SECRETS_DIR") or "var/secrets").resolve()
    settings = Settings(
        env=tower_env,
        database_url=_url(
            get("DATABASE_URL") or DEFAULTS["DATABASE_URL"][0],
            "DATABASE_URL",
            ("postgresql", "postgresql+psycopg2"),
        ),
        redis_url=_url(get("REDIS_URL") or DEFAULTS["REDIS_URL"][0], "REDIS_URL", ("redis",)),
        broker_url=get("CELERY_BROKER_URL"),
        result_backend=get("CELERY_RESULT_BACKEND"),
        broker_key_prefix=get("BROKER_KEY_PREFIX"),
        artifact_root=Path(get("ARTIFACT_ROOT") or "var/artifacts").resolve(),
        secrets_dir=secrets_dir,
        secret_key=env.get("SECRET_KEY", "")
        or keys.read_or_create(
            secrets_dir / keys.SECRET_KEY_FILE, keys.generate_secret_key, "SECRET_KEY"
        ),
        flower_basic_auth=env.get("FLOWER_BASIC_AUTH", ""),
        trusted_proxies=_count(get("TRUSTED_PROXIES") or "0", "TRUSTED_PROXIES"),
        comfyui_url=_url(
            get("COMFYUI_URL") or DEFAULTS["COMFYUI_URL"][0], "COMFYUI_URL", ("http", "https")
        ),
        worker_node=get("WORKER_NODE"),
        web_port=_port(get("WEB_PORT") or "5000", "WEB_PORT"),
        flower_port=_port(get("FLOWER_PORT") or "5555", "FLOWER_PORT"),
        flower_url=get("FLOWER_URL"),
        sweep_every_s=_seconds(get("SWEEP_EVERY_S") or "5", "SWEEP_EVERY_S"),
        setting_defaults=_setting_defaults(env),
    )
    return settings


def _setting_defaults(env: Mapping[str, str]) -> dict[str, object]:
    """The farm settings whose environment variable is set, parsed by their declarations."""
    defaults = {}
    for name, spec in SPECS.items():
        if env.get(spec.variable, "").strip():
            try:
                defaults[name] = spec.parse(env[spec.variable])
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
    return defaults


def _url(value: str, name: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{name} must be a {'/'.join(schemes)} URL, not {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ConfigError(f"{name} has a malformed port: {value!r}") from exc
    return value


def _count(value: str, name: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def _seconds(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0.5 <= seconds <= 3600:
        raise ConfigError(f"{name} must be a number of seconds from 0.5 to 3600, not {value!r}")
    return seconds


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name} must be a port number, not {value!r}")
    return int(value)
