"""Settings: safe defaults, and one clear line naming a bad setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli import main
from app.settings import ConfigError, Settings, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./kabinet.db"
    assert settings.kabinet_port == 8080 and settings.kabinet_now is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KABINET_PORT", "eighty"),
        ("KABINET_NOW", "2026-11-29T10:00:00"),
        ("DATABASE_URL", "mysql://x"),
        ("TELEGRAM_MODE", "pigeon"),
        ("BUSINESS_TIMEZONE", "Mars/Olympus"),
        ("BILL_DUE_DAY", "31"),
        ("BANK_IBAN", "UA213223130000026007233566002"),
        ("BANK_EDRPOU", "12345"),
        ("BANK_PURPOSE", "Оплата за {period}"),
        ("BANK_PURPOSE", "Оплата {account} {month}"),
        ("SCHEDULE_STALE_AFTER_HOURS", "0"),
    ],
)
def test_bad_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path, name: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert name in str(error.value)
    assert "\n" not in str(error.value)


def test_bank_details_are_normalised(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BANK_IBAN", "ua21 3223 1300 0002 6007 2335 6600 1")
    monkeypatch.setenv("BANK_EDRPOU", "32910079")
    settings = load_settings()
    assert settings.bank_iban == "UA213223130000026007233566001"
    assert settings.bill_due_day == 20 and "{account}" in settings.bank_purpose


def test_command_line_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KABINET_PORT", "99999")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kabinet: bad setting KABINET_PORT") and "\n" not in err


def test_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)


def test_env_example_names_exactly_the_settings() -> None:
    """.env.example documents every setting, and nothing that no setting reads."""
    example = Path(__file__).parents[2] / ".env.example"
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example.read_text(), re.M))
    assert documented == {name.upper() for name in Settings.model_fields}
