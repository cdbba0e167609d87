"""Settings come from the environment: each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_VARS = [
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "SECURE_SSL",
    "EMAIL_URL",
    "ALLOWED_HOSTS",
    "CANDOR_CURRENCY",
    "CANDOR_FIRM_NAME",
    "CANDOR_FIRM_ADDRESS",
    "CANDOR_FIRM_LOGO",
]

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
    "conn_max_age": db["CONN_MAX_AGE"], "health_checks": db["CONN_HEALTH_CHECKS"],
    "debug": settings.DEBUG, "cache": settings.CACHES["default"]["BACKEND"],
    "mailer": settings.MAILERS["default"]["BACKEND"],
    "ssl_redirect": settings.SECURE_SSL_REDIRECT, "hsts": settings.SECURE_HSTS_SECONDS,
    "hosts": settings.ALLOWED_HOSTS,
    "firm": [settings.CANDOR_FIRM_NAME, list(settings.CANDOR_FIRM_ADDRESS),
             settings.CANDOR_FIRM_LOGO and str(settings.CANDOR_FIRM_LOGO)],
}))
"""


def run(code: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", ENV_FILE="", **env)
    return subprocess.run(
        [sys.executable, *code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def settings_with(**env: str) -> dict:
    result = run(["-c", PRINT_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_a_sqlite_file_with_debug_off():
    config = settings_with(SECRET_KEY="k")
    assert config["engine"] == "django.db.backends.sqlite3"
    assert config["name"] == str(ROOT / "db.sqlite3")
    assert config["debug"] is False
    assert config["hosts"] == ["localhost", "127.0.0.1"]
    assert config["cache"].endswith("LocMemCache")
    assert config["mailer"].endswith("smtp.EmailBackend")  # the local mail server


def test_database_url_selects_postgresql_with_persistent_checked_connections():
    config = settings_with(SECRET_KEY="k", DATABASE_URL="postgres://u:p@db.internal:5432/candor")
    assert config["engine"] == "django.db.backends.postgresql"
    assert (config["name"], config["host"]) == ("candor", "db.internal")
    assert config["conn_max_age"] == 60
    assert config["health_checks"] is True


def test_conn_max_age_in_the_url_wins():
    config = settings_with(SECRET_KEY="k", DATABASE_URL="postgres://u@h:5432/c?conn_max_age=5")
    assert config["conn_max_age"] == 5


def test_redis_url_moves_the_cache_to_redis():
    config = settings_with(SECRET_KEY="k", REDIS_URL="redis://127.0.0.1:6379/0")
    assert config["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_email_url_selects_smtp():
    config = settings_with(SECRET_KEY="k", EMAIL_URL="smtp+tls://u:p@mail.example.com:587")
    assert config["mailer"] == "django.core.mail.backends.smtp.EmailBackend"


def test_without_debug_a_secret_key_is_required():
    result = run(["-c", PRINT_SETTINGS], SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_an_unknown_currency_stops_the_start_with_the_codes_to_use():
    result = run(["-c", PRINT_SETTINGS], SECRET_KEY="x", CANDOR_CURRENCY="pounds")
    assert result.returncode != 0
    assert "CANDOR_CURRENCY='POUNDS' is not a currency Candor knows" in result.stderr
    assert "GBP" in result.stderr


def test_the_letterhead_defaults_to_candor_without_address_or_logo():
    assert settings_with(SECRET_KEY="k")["firm"] == ["Candor", [], None]


def test_the_letterhead_comes_from_the_environment(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n")
    config = settings_with(
        SECRET_KEY="k",
        CANDOR_FIRM_NAME=" Hale & Partners LLP ",
        # A real newline, or "\n" as a shell or a .env line leaves it.
        CANDOR_FIRM_ADDRESS="1 Fleet Street\nLondon EC4Y 1AA\\nUnited Kingdom\n",
        CANDOR_FIRM_LOGO=str(logo),
    )
    assert config["firm"] == [
        "Hale & Partners LLP",
        ["1 Fleet Street", "London EC4Y 1AA", "United Kingdom"],
        str(logo),
    ]


def test_a_relative_logo_path_is_read_from_the_project_folder():
    config = settings_with(SECRET_KEY="k", CANDOR_FIRM_LOGO="static/favicon.svg")
    assert config["firm"][2] == str(ROOT / "static/favicon.svg")


def test_a_missing_or_unusable_logo_stops_the_start(tmp_path):
    result = run(["-c", PRINT_SETTINGS], SECRET_KEY="k", CANDOR_FIRM_LOGO=str(tmp_path / "no.png"))
    assert result.returncode != 0
    assert "no.png'" in result.stderr and "there is no such file" in result.stderr
    document = tmp_path / "logo.pdf"
    document.write_bytes(b"%PDF-1.4")
    result = run(["-c", PRINT_SETTINGS], SECRET_KEY="k", CANDOR_FIRM_LOGO=str(document))
    assert result.returncode != 0
    assert "is not an image Candor can put on its letterhead" in result.stderr
    assert ".png" in result.stderr


def test_debug_sends_mail_to_the_console():
    assert settings_with(DEBUG="true")["mailer"].endswith("console.EmailBackend")


def test_debug_provides_a_development_key():
    assert settings_with(DEBUG="true", SECRET_KEY="")["debug"] is True


def test_a_production_configuration_passes_check_deploy():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY="x" * 10 + "a-long-random-production-key-with-enough-entropy-1234567890",
        ALLOWED_HOSTS="candor.example.com",
        SECURE_SSL="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    config = settings_with(SECRET_KEY="k", SECURE_SSL="true")
    assert config["ssl_redirect"] is True
    assert config["hsts"] >= 31536000
