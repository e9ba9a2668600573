"""Autofy's settings: one class, read from `AUTOFY_*` environment variables (or a `.env` file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autofy.notifications.mail_server import check_sender, parse_smtp_url


def default_data_dir() -> Path:
    """Where the embedded PostgreSQL and generated dev secrets live.

    The embedded server widens the permissions of every parent folder of its data folder so its own
    system user can reach it; as root that must not be a home folder such as /root.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/autofy")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "autofy"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value may be a secret (a password inside AUTOFY_SMTP_URL).
    model_config = SettingsConfigDict(
        env_prefix="AUTOFY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (with pgvector). Unset: Autofy runs its own embedded server.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the embedded database and generated development secrets.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    public_url: str | None = Field(
        default=None,
        description=(
            "Base URL users and services reach Autofy at (webhook and OAuth redirect URLs); "
            "by default http://<host>:<port>."
        ),
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret for access tokens (a Supabase project's JWT secret works).",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Credential encryption keys as `id:base64key` pairs separated by commas; "
            "the first one encrypts, all of them decrypt."
        ),
    )
    db_pool_size: int = Field(default=10, ge=1, description="Connections per process.")
    api_key_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Server secret for the keyed hash (HMAC-SHA256) of API keys. Unset: derived from "
            "AUTOFY_JWT_SECRET, so changing that secret also invalidates every API key."
        ),
    )
    access_token_ttl_seconds: int = Field(
        default=3600, ge=60, description="Lifetime of an access token (JWT), in seconds."
    )
    refresh_token_ttl_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=300,
        description="Lifetime of a refresh token and of an idle sign-in session, in seconds.",
    )
    password_min_length: int = Field(
        default=10, ge=8, le=128, description="Shortest password accepted at sign-up."
    )
    password_hash_memory_kib: int = Field(
        default=19_456,
        ge=1024,
        description=(
            "argon2id memory cost per password hash, in KiB (OWASP: 19 MiB with time cost 2). "
            "Tests lower it for speed; production should keep the default or raise it."
        ),
    )
    password_hash_time_cost: int = Field(
        default=2, ge=1, description="argon2id iterations per password hash (OWASP: 2 at 19 MiB)."
    )
    sign_in_failures_per_email: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins allowed for one email within the window before 429.",
    )
    sign_in_failures_per_ip: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins allowed from one IP address within the window before 429.",
    )
    sign_in_failure_window_seconds: int = Field(
        default=900, ge=1, description="The window failed sign-ins are counted in, in seconds."
    )
    max_request_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted; larger bodies get 413.",
    )
    log_level: str = Field(default="INFO", description="Python log level.")
    outbound_allow_private_network: bool = Field(
        default=False,
        description=(
            "Let workflows and integration base URLs reach private, loopback and link-local "
            "addresses (a local LLM server, say). Off, such requests are refused (SSRF guard)."
        ),
    )
    serve_worker_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description=(
            "Worker processes `autofy serve` starts beside the API, so that HTTP traffic never "
            "takes the event loop the runs need. 0 runs the workers inside the API's process."
        ),
    )
    webhook_max_in_flight: int = Field(
        default=128,
        ge=1,
        description=(
            "Webhook deliveries one API process works on at once; more get 503 with Retry-After "
            "at once (nothing is recorded for them)."
        ),
    )
    webhook_max_backlog: int = Field(
        default=1000,
        ge=1,
        description=(
            "Runs waiting for a worker past which webhook deliveries get 503 with Retry-After, "
            "so Autofy never acknowledges more than its workers finish."
        ),
    )
    worker_concurrency: int = Field(
        default=20, ge=2, le=500, description="Engine jobs one worker process runs at once."
    )
    worker_lease_seconds: float = Field(
        default=30.0,
        ge=2,
        description=(
            "A picked job whose worker sent no heartbeat for this long is run by another worker "
            "(a worker that is alive but stuck). A worker that dies is seen at once (its session "
            "lock ends) and its jobs are taken over within AUTOFY_WORKER_TAKEOVER_CHECK_SECONDS."
        ),
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How often a worker confirms the jobs it is running (and hands back picked jobs none "
            "of its tasks runs); at most half the lease."
        ),
    )
    worker_takeover_check_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each worker looks for dead workers and takes over their jobs.",
    )
    worker_reconnect_max_seconds: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Longest wait between a worker's attempts to reconnect to the database (backoff from "
            "0.1 s, doubling)."
        ),
    )
    worker_shutdown_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long in-flight steps get to finish before they are handed back.",
    )
    health_check_interval_seconds: float = Field(
        default=30.0, gt=0, description="Seconds between health checks recorded in system_status."
    )
    prune_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds between retention pruning rounds."
    )
    status_retention_days: int = Field(
        default=7, ge=1, description="Days health-check rows (system_status) are kept."
    )
    retention_days_free: int = Field(
        default=14, ge=1, description="Days a free-plan user's finished executions are kept."
    )
    retention_days_pro: int = Field(
        default=90, ge=1, description="Days a pro-plan user's finished executions are kept."
    )
    retention_days_enterprise: int = Field(
        default=365, ge=1, description="Days an enterprise user's finished executions are kept."
    )
    audit_retention_days: int = Field(default=730, ge=1, description="Days audit log entries are kept.")
    credits_free: int = Field(
        default=1_000,
        ge=0,
        description=(
            "Credits per monthly period of the free plan, given at sign-up and by `autofy users "
            "set-plan` (a change applies to accounts as they sign up or change plan)."
        ),
    )
    credits_pro: int = Field(default=20_000, ge=0, description="Credits per monthly period of the pro plan.")
    credits_enterprise: int = Field(
        default=200_000, ge=0, description="Credits per monthly period of the enterprise plan."
    )
    prune_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Rows deleted per transaction when pruning."
    )

    smtp_url: SecretStr | None = Field(
        default=None,
        description=(
            "Mail server for notification emails: smtp://user:password@host:587 (STARTTLS when the "
            "server offers it), smtp+starttls://… (STARTTLS required) or smtps://…:465 (TLS from the "
            "start). Unset, or AUTOFY_MAIL_FROM unset: notifications stay in the app."
        ),
    )
    mail_from: str | None = Field(
        default=None, description="Sender of notification emails, e.g. `Autofy <autofy@example.com>`."
    )
    notification_retention_days: int = Field(
        default=90, ge=1, description="Days notifications are kept, read or not."
    )

    @field_validator("smtp_url")
    @classmethod
    def _valid_smtp_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and url.get_secret_value():
            parse_smtp_url(url.get_secret_value())
            return url
        return None

    @field_validator("mail_from")
    @classmethod
    def _valid_sender(cls, sender: str | None) -> str | None:
        return check_sender(sender) if sender else None

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        if self.worker_heartbeat_seconds * 2 > self.worker_lease_seconds:
            raise ValueError(
                "AUTOFY_WORKER_HEARTBEAT_SECONDS must be at most half of AUTOFY_WORKER_LEASE_SECONDS "
                f"(got {self.worker_heartbeat_seconds} and {self.worker_lease_seconds})"
            )
        return self

    @property
    def external_url(self) -> str:
        """Where users and services reach this Autofy: `public_url`, else the listening address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def plan_credits(self, plan: str) -> int:
        """The allowance per period of `plan` (free, pro, enterprise)."""
        allowances = {
            "free": self.credits_free,
            "pro": self.credits_pro,
            "enterprise": self.credits_enterprise,
        }
        return allowances[plan]

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
