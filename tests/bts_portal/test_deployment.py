"""Deployment recipes: production settings pass check --deploy; the compose file is valid for real."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "bts_portal.settings.production",
    "DJANGO_SECRET_KEY": "q8Zr2v-Kx4mT7pLw9sB3nF6hJ1cY5dG0aE8uR2iO4kN7zX1vQ3wM",
    "DJANGO_ALLOWED_HOSTS": "bts.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/bts_portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "BTS_SECRET_KEYS": "hVQ1jXo6bq4mB2kO4yHcQj3rN8lWvE0xZp5sT7dU9aY=",
}


def _manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_an_anymail_provider_is_configured_from_the_environment():
    env = {
        **PRODUCTION_ENV,
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "server-token",
    }
    result = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.ANYMAIL)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "anymail.backends.postmark.EmailBackend {'POSTMARK_SERVER_TOKEN': 'server-token'}"
    )


@pytest.mark.parametrize("value", ["8am", "0800", "08:00:00", "24:00"])
def test_a_reminder_time_that_is_not_hh_mm_stops_the_start_with_its_name(value):
    result = _manage("check", env={**PRODUCTION_ENV, "BTS_REMINDER_LOCAL_TIME": value})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        f"BTS_REMINDER_LOCAL_TIME must be a time as HH:MM, e.g. 08:00, not {value!r}."
    )


def test_production_settings_refuse_to_start_without_a_secret():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "Set the BTS_SECRET_KEYS environment variable"),
        ("not-a-fernet-key", "BTS_SECRET_KEYS must hold Fernet keys"),
    ],
)
def test_production_settings_refuse_to_start_without_connection_secret_keys(value, said):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "BTS_SECRET_KEYS"}
    result = _manage("check", env=env if value is None else {**env, "BTS_SECRET_KEYS": value})
    assert result.returncode != 0
    assert said in result.stderr


def _compose(path: Path, *args):
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "bin/test installs Debian's docker-compose; run the suite through bin/test"
    return subprocess.run(
        [docker_compose, "-f", str(path), *args],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SECRET_KEY": "compose-check", "BTS_SECRET_KEYS": PRODUCTION_ENV["BTS_SECRET_KEYS"]},
    )


def test_the_compose_file_is_valid_and_has_one_beat():
    result = _compose(ROOT / "docker-compose.yml", "config", "--services")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["beat", "db", "migrate", "redis", "web", "worker"]
    services = yaml.safe_load(_compose(ROOT / "docker-compose.yml", "config").stdout)["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
        assert services[name]["image"] == "bts-portal:latest"
        assert "healthcheck" in services[name]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["beat"]["command"][:4] == ["celery", "-A", "bts_portal", "beat"]


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda text: text.replace("    image: redis:7\n", "    image: [redis:7\n"), id="bad-yaml"),
        pytest.param(
            lambda text: text.replace("    redis:\n      condition", "    cache:\n      condition"),
            id="unknown-dependency",
        ),
        pytest.param(
            lambda text: text.replace(
                '    healthcheck:\n      test: ["CMD-SHELL", "pg_isready',
                '    healthcheck:\n      tests: ["CMD-SHELL", "pg_isready',
            ),
            id="misspelt-key",
        ),
    ],
)
def test_the_compose_check_fails_on_a_broken_file(tmp_path, break_it):
    original = (ROOT / "docker-compose.yml").read_text()
    broken = break_it(original)
    assert broken != original
    (tmp_path / "docker-compose.yml").write_text(broken)
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    assert _compose(tmp_path / "docker-compose.yml", "config", "-q").returncode != 0
