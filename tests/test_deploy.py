import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client

BAILANYS = Path(sys.executable).parent / "bailanys"


def test_the_production_profile_passes_check_deploy(tmp_path):
    env = {
        **os.environ,
        "BAILANYS_DATA_DIR": str(tmp_path),
        "BAILANYS_SECURE_COOKIES": "true",
        "BAILANYS_SECRET_KEY": secrets.token_urlsafe(60),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [BAILANYS, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_bad_setting_stops_with_a_message_naming_it(tmp_path):
    env = {**os.environ, "BAILANYS_DATA_DIR": str(tmp_path), "BAILANYS_LEASE_SECONDS": "soon"}
    result = subprocess.run(
        [BAILANYS, "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "BAILANYS_LEASE_SECONDS must be a whole number" in result.stderr


def test_the_bench_endpoint_is_off_unless_asked_for(db):
    """/bench/bare (bench/intake_load.py) inserts without a check: never mounted by default."""
    assert Client().post("/bench/bare", b"x", content_type="text/plain").status_code == 404
