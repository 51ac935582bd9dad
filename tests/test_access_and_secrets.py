"""Optional sign-in with an e-mail domain allow-list, and secrets that never reach the screen, the terminal or the logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from streamlit.testing.v1 import AppTest

from monitor import snapshot
from monitor.access import allowed

APP = str(Path(__file__).parent.parent / "app.py")


@pytest.mark.parametrize("email, domains, ok", [
    ("ana@example.com", ["example.com"], True),
    ("Ana@EXAMPLE.com", ["example.com"], True),
    ("ana@example.com", ["@example.com"], True),
    ("ana@evil-example.com", ["example.com"], False),
    ("ana@example.com.evil.io", ["example.com"], False),
    ("ana@sub.example.com", ["example.com"], False),  # exact domains only
    ("ana@x.org", [], True),  # no list: any signed-in user
    ("", ["example.com"], False),
    (None, ["example.com"], False),
    ("a@b@example.com", ["example.com"], False),
    ("@example.com", ["example.com"], False),
])
def test_allowed(email, domains, ok):
    assert allowed(email, domains) is ok


@pytest.fixture
def fresh(monkeypatch):
    for var in ("BACKFILL_WAREHOUSE", "BACKFILL_CONFIG", "BACKFILL_REFRESH_S"):
        monkeypatch.delenv(var, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_sign_in_is_required_when_auth_is_configured(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s3cret-cookie",
                          "client_id": "id", "client_secret": "s3cret-client",
                          "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
    at.secrets["access"] = {"allowed_domains": ["example.com"]}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric  # no figures before sign-in
    assert not (tmp_path / "demo.duckdb").exists()  # nor any warehouse work


def test_the_sign_in_route_has_what_it_needs():
    """Streamlit's /auth/login route imports Authlib's Starlette client only when someone clicks Sign in; it needs
    httpx, which Streamlit's `auth` extra brings and requirements.txt pins: without it the click fails."""
    import importlib
    import warnings

    from authlib.deprecate import AuthlibDeprecationWarning  # its import turns its notices "always" on

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)  # a notice about Authlib's own future
        assert importlib.import_module("authlib.integrations.starlette_client").OAuth


def _fake_key() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "fake-project-123", "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": pem, "client_email": "monitor@fake-project-123.iam.gserviceaccount.com", "client_id": "109876543210",
            "token_uri": "https://oauth2.googleapis.com/token"}


def _secret_bits(key: dict) -> list[str]:
    body = key["private_key"].splitlines()[1:-1]
    return [key["private_key_id"], *body[:3], body[-1]]


def test_a_service_account_key_in_secrets_never_reaches_the_page_or_the_logs(fresh, monkeypatch, caplog, capfd):
    key = _fake_key()
    monkeypatch.setattr(snapshot, "DEFAULT_DEADLINE_S", 3.0)  # no network here: the token request fails, quickly
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["gcp_service_account"] = key
    at.secrets["warehouse"] = "bigquery://fake-project-123"
    with caplog.at_level(logging.DEBUG):
        at.run()
    assert not at.exception
    shown = json.dumps([str(e.value) if hasattr(e, "value") else str(e) for e in at.main] +
                       [str(getattr(e, "value", "")) for e in at.sidebar])
    out, err = capfd.readouterr()
    everything = shown + out + err + caplog.text
    assert "Last refresh: 3 queries" in shown  # the page did render, after trying the warehouse with that key
    for bit in _secret_bits(key):
        assert bit not in everything


def test_the_terminal_never_prints_a_key_from_google_application_credentials(tmp_path):
    key = _fake_key()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOOGLE_APPLICATION_CREDENTIALS": str(path),
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    code = "import monitor.snapshot as s; s.DEFAULT_DEADLINE_S = 3.0; from monitor.cli import main; raise SystemExit(main())"
    for args in (["--warehouse", "bigquery://fake-project-123", "--format", "json"], ["--warehouse", "bigquery://fake-project-123"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2  # nothing can be read without a network: one line, exit 2
        assert "Traceback" not in proc.stderr
        for bit in _secret_bits(key):
            assert bit not in proc.stdout + proc.stderr


def test_the_example_secrets_with_an_emulator_endpoint_read_it_without_the_key(fresh, bq_endpoint, monkeypatch):
    """The README's emulator set-up with the example secrets copied: an endpoint is read anonymously, so the
    example's fake key is neither read nor refused, and the figures show (a1: 5 of 8 eligible dates)."""
    import tomllib

    from tests.bq_emulator import fresh_project
    from tests.bq_seed import seed
    from tests.test_progress import COVERAGE, NOW, RUNS, SCHEDULE

    project = fresh_project("example-secrets")
    seed(bq_endpoint, project, schedule=("raw", "schedule"), schedule_rows=SCHEDULE, tables=COVERAGE,
         runs=("ref", "run_history"), run_rows=RUNS)
    example = tomllib.loads((Path(APP).parent / ".streamlit" / "secrets.toml.example").read_text(encoding="utf-8"))
    monkeypatch.setenv("BACKFILL_CONFIG", str(Path(__file__).parent / "small_pipeline.toml"))
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(example)
    at.secrets["warehouse"] = f"bigquery://{project}?endpoint={bq_endpoint}"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.switch_page("pages/tables.py").run()
    tables = at.dataframe[0].value.set_index("table")
    assert tables.loc["a1", ["dates", "eligible"]].tolist() == [5, 8]
