"""The embedded NATS server's users: passwords it can read, kept across starts, and a configuration it accepts."""

import json
import os
import subprocess
import sys
from pathlib import Path

from gongkai import natsauth
from gongkai.config import Settings


def test_passwords_are_kept_and_ones_the_server_would_misread_are_replaced(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = natsauth.passwords(settings)
    assert set(first) == set(natsauth.USERS) and all(p[0].isalpha() and p.isalnum() for p in first.values())
    assert natsauth.passwords(settings) == first  # kept
    path = tmp_path / "keys" / "nats-users.json"
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text(json.dumps({**first, "reports": "3-IKbV2026"}))  # read as a date by nats-server
    again = natsauth.passwords(settings)
    assert again["reports"] != "3-IKbV2026" and again["items"] == first["items"]


def test_the_embedded_configuration_is_valid_and_each_process_has_its_own_url(tmp_path):
    settings = Settings(data_dir=tmp_path)
    conf, env = natsauth.server_files(settings)
    done = subprocess.run([str(Path(sys.executable).parent / "nats-server"), "-t", "-c", str(conf)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    urls = {u: natsauth.url(settings, u) for u in ("items", "reviews")}
    assert urls["items"].startswith("nats://items:") and urls["reviews"].startswith("nats://reviews:")
    assert urls["items"] != urls["reviews"]
