"""The stack as an operator sees it: SIGKILL mid-review loses nothing, ports that are taken are named,
replay gives the same totals, status tells what runs."""

import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import Api, People
from tests.servers import StackProcess

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
GONGKAI = str(Path(sys.executable).parent / "gongkai")


def test_sigkill_after_initial_approval_then_restart_publishes_and_counts_once(tmp_path):
    stack = StackProcess(tmp_path / "data")
    stack.start()
    try:
        api, people = Api(stack), People(stack, "crash-org")
        item = api.create(people.author, "plans")
        api.submit(people.author, item["id"])
        assert api.decide(people.officer, item["id"], "initial").status_code == 200

        stack.kill()  # SIGKILL to the launcher and every process it started
        assert not stack.health()

        stack.start()
        r = api.decide(people.head, item["id"], "recheck")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "published"
        got = api.item(people.author, item["id"])
        assert [h["type"] for h in got["history"]].count("item.published") == 1
        t = api.totals_after(people.viewer, got["version"], year=YEAR, org=people.org)
        assert t["proactive"]["by_category"]["plans"] == 1 and t["proactive"]["total"] == 1

        # replay rebuilds the projections from the log and the totals come out the same
        out = subprocess.run([GONGKAI, "replay"], env=stack.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert re.search(r"reports\.totals(\.v\d+)?: rebuilt to position", out.stdout), out.stdout
        assert api.totals(people.viewer, year=YEAR, org=people.org) == t

        status = subprocess.run([GONGKAI, "status"], env=stack.env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and status.stdout.count(" up ") == 7, status.stdout
    finally:
        stack.stop()


def test_up_names_the_setting_that_moves_a_taken_port(tmp_path):
    stack = StackProcess(tmp_path / "data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", stack.ports["ITEMS"]))
        holder.listen()
        out = subprocess.run([GONGKAI, "up"], env=stack.env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"port {stack.ports['ITEMS']}" in out.stderr and "GONGKAI_ITEMS_PORT" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_status_says_what_is_down(tmp_path):
    stack = StackProcess(tmp_path / "data")
    out = subprocess.run([GONGKAI, "status"], env=stack.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "DOWN" in out.stdout
    assert "\ncalendar: " in out.stdout  # whether next year's working-day schedule is known yet


def test_status_warns_of_a_missing_working_day_schedule(tmp_path):
    """From October, a year a deadline could reach must be scheduled; 2027 is, here, only through the file."""
    stack = StackProcess(tmp_path / "data")
    line = subprocess.run([GONGKAI, "status"], env=stack.env, capture_output=True, text=True,
                          timeout=60).stdout.split("calendar: ", 1)[1].splitlines()[0]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gongkai.workdays import unscheduled_years
    from tests.unit.test_workdays import TOML_2027

    missing = unscheduled_years(datetime.now(ZoneInfo("Asia/Shanghai")).date())
    assert ("WARNING" in line and all(str(y) in line for y in missing)) if missing else "WARNING" not in line, line
    if missing == [2027]:
        (tmp_path / "calendar.toml").write_text(TOML_2027, encoding="utf-8")
        env = {**stack.env, "GONGKAI_CALENDAR_FILE": str(tmp_path / "calendar.toml")}
        out = subprocess.run([GONGKAI, "status"], env=env, capture_output=True, text=True, timeout=60).stdout
        assert "calendar: every year a deadline started today can reach is scheduled" in out, out


def test_a_token_is_printed_alone_and_accepted_only_by_its_own_deployment(stack, tmp_path):
    tok = stack.token("zhang.wei", "org1", "author")
    assert "\n" not in tok and tok.count(".") == 2
    ok = httpx.get(f"{stack.url('items')}/items", headers={"Authorization": f"Bearer {tok}"})
    assert ok.status_code == 200
    other = StackProcess(tmp_path / "other")  # another data dir: another deployment, another key
    foreign = other.token("zhang.wei", "org1", "author")
    r = httpx.get(f"{stack.url('items')}/items", headers={"Authorization": f"Bearer {foreign}"})
    assert r.status_code == 401


def test_an_expired_token_is_refused(stack):
    out = subprocess.run([GONGKAI, "token", "--user", "u", "--org", "o", "--role", "viewer", "--ttl", "-10"],
                         env=stack.env, capture_output=True, text=True, check=True)
    r = httpx.get(f"{stack.url('reports')}/totals", headers={"Authorization": f"Bearer {out.stdout.strip()}"})
    assert r.status_code == 401 and r.json()["error"] == "token_expired"
