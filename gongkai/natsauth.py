"""Who connects to NATS as whom. Each process has its own NATS user, allowed only its own subjects
(`gongkai/nats/accounts.conf`, the one definition): the items service alone may append events, the reviews
and reports services only read, the worker only sends commands, the dashboard never connects.

On one machine `gongkai up` keeps the passwords in DATA_DIR/keys/nats-users.json (owner-only, like the signing
key) and writes the server's configuration beside its store. Elsewhere (compose.yaml) GONGKAI_NATS_URL
carries the process's own user and password, and nothing here is used.
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from gongkai.config import Settings

#: every NATS user of gongkai/nats/accounts.conf; `admin` is for operators and the gongkai CLI
USERS = ("items", "reviews", "reports", "worker", "admin", "sys")


def _secrets_file(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "nats-users.json"


def passwords(settings: Settings) -> dict[str, str]:
    """Each user's password; created on first use with owner-only permissions, never changed after."""
    path = _secrets_file(settings)
    known = json.loads(path.read_text()) if path.exists() else {}
    if set(USERS) - set(known) or not all(map(_readable, known.values())):
        known = {u: known[u] if _readable(known.get(u)) else new_password() for u in USERS}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.chmod(0o600)
        tmp.replace(path)
    return known


def new_password() -> str:
    """Letters and digits, starting with a letter: the server's configuration reads `$NATS_…_PASSWORD` as a
    typed value, and one starting with a digit would be taken for a number or a date."""
    return "k" + secrets.token_hex(24)


def _readable(password: str | None) -> bool:
    return bool(password) and password[0].isalpha() and password.isalnum()


def url(settings: Settings, user: str) -> str:
    """The NATS URL a process connects with: GONGKAI_NATS_URL as given (it carries its credentials), or the
    embedded server with `user`'s credentials."""
    if settings.nats_url_env:
        return settings.nats_url_env
    return f"nats://{user}:{quote(passwords(settings)[user], safe='')}@{settings.host}:{settings.nats_port}"


def inbox_prefix(user: str) -> str:
    """The subjects `user` receives its replies on (`_INBOX_<user>.…`), which only it may subscribe to: with one
    `_INBOX.>` for all, any service could read the replies meant for another (the worker's command replies,
    another reader's stream messages)."""
    return f"_INBOX_{user}"


def server_files(settings: Settings) -> tuple[Path, dict[str, str]]:
    """The embedded server's configuration (written into the data dir) and the environment it reads the
    passwords from."""
    d = settings.data_dir
    d.mkdir(parents=True, exist_ok=True)
    accounts = resources.files("gongkai").joinpath("nats/accounts.conf").read_text(encoding="utf-8")
    (d / "nats-accounts.conf").write_text(accounts, encoding="utf-8")
    conf = d / "nats.conf"
    conf.write_text("# written by `gongkai up` at each start; the users: gongkai/nats/accounts.conf\n"
                    'include "nats-accounts.conf"\n', encoding="utf-8")
    env = {f"NATS_{u.upper()}_PASSWORD": pw for u, pw in passwords(settings).items()}
    return conf, env
