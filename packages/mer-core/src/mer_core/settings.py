"""Settings of every MER service: environment variables prefixed ``MER_``, or the ``.env`` file.

One class per service; the shared names (``MER_DAL_URL``, ``MER_TOKEN``, ``MER_ADMIN_TOKEN``,
``MER_DB_URL``) mean the same thing everywhere. Tokens are ``SecretStr``: they never appear in a
repr, a log line or a command line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "surrealkv://.mer/db"
DEFAULT_DAL_URL = "http://127.0.0.1:8700"
DEFAULT_WORKER_URL = "http://127.0.0.1:8701"


class MerSettings(BaseSettings):
    """Base: reads ``MER_*`` from the environment, then from ``.env`` in the working directory."""

    model_config = SettingsConfigDict(
        env_prefix="MER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


class DatabaseSettings(MerSettings):
    """Where the MER-DB lives: ``surrealkv://DIR`` (embedded), ``mem://`` or ``ws://HOST:PORT``."""

    db_url: str = DEFAULT_DB_URL
    db_namespace: str = "mer"
    db_database: str = "mer"
    db_user: str | None = None
    db_password: SecretStr | None = None


class MigratorSettings(DatabaseSettings):
    sql_dir: Path = Path("services/migrator/sql")
    lock_timeout_s: float = 30.0
    lock_ttl_s: float = 600.0


class DalSettings(DatabaseSettings):
    host: str = Field(default="127.0.0.1", validation_alias="MER_DAL_HOST")
    port: int = Field(default=8700, validation_alias="MER_DAL_PORT")
    token: SecretStr | None = None
    admin_token: SecretStr | None = None
    blob_chunk_size: int = 1024 * 1024


class WorkerSettings(MerSettings):
    host: str = Field(default="127.0.0.1", validation_alias="MER_WORKER_HOST")
    port: int = Field(default=8701, validation_alias="MER_WORKER_PORT")
    dal_url: str = DEFAULT_DAL_URL
    token: SecretStr | None = None
    server_name: str = "local"
    cache_dir: Path = Path(".mer/cache")
    spool_dir: Path = Path(".mer/spool")
    config_refresh_s: float = 1.0
    session_memory_budget_mb: int = 2048
    intra_op_threads: int = 0
    inter_op_threads: int = 1
    access_log_enabled: bool = True
    access_log_flush_ms: int = 200
    ssh_connect_timeout_s: float = 10.0
    ssh_keepalive_interval_s: float = 5.0
    ssh_keepalive_count_max: int = 3
    request_timeout_s: float = 30.0


class ReplSettings(MerSettings):
    dal_url: str = DEFAULT_DAL_URL
    worker_url: str = DEFAULT_WORKER_URL
    token: SecretStr | None = None
    admin_token: SecretStr | None = None
    history_file: Path = Path.home() / ".mer_history"
    state_dir: Path = Path(".mer")
