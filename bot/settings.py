"""Configuration from the environment (and ``.env``), exactly as PRODUCT.md section 6 names it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///onboarding-bot.db"
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"  # the address HTTP mode listens on; 127.0.0.1 keeps it to this machine
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    log_format: Literal["text", "json"] = "text"
    # Requests a minute per API token (a token bucket in each process: with several replicas, each allows this many).
    api_rate_limit: int = Field(default=60, ge=1, le=100_000)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # WebClient joins method names with urljoin, which drops a last path segment without "/".
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def check_runnable(self) -> None:
        """Everything `onboarding-bot run` needs, or one clear line naming the variable."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is required: the bot token (xoxb-...) from OAuth & Permissions.")
        if not self.slack_bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.")
        if self.slack_app_token is not None and not self.slack_app_token.startswith("xapp-"):
            raise ConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- (or unset for HTTP mode)."
            )
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information → Signing Secret); "
                "or set SLACK_APP_TOKEN to use Socket Mode."
            )
        if self.slack_client_id or self.slack_client_secret:
            raise ConfigError(
                "SLACK_CLIENT_ID / SLACK_CLIENT_SECRET are set, but multi-workspace OAuth install is not "
                "available in this version; unset them to run in single-workspace mode."
            )


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        raise ConfigError(f"{name} is invalid: {first['msg']}.") from exc
