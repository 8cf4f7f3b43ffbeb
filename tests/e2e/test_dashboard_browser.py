"""The dashboard in a real headless Chromium: an item published through the API changes the figure on the open
page within seconds, without a reload. The screenshot is kept in test-artifacts/dashboard.png."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import dashboard
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
APP = Path(dashboard.__file__).parent / "app.py"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")


@pytest.fixture
def dashboard_url(stack, people, tmp_path):
    """A dashboard process of the test's own, for a fresh org, with a city-level viewer's token."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
    env.update(GONGKAI_REPORTS_URL=stack.url("reports"), GONGKAI_ITEMS_URL=stack.url("items"),
               GONGKAI_DASHBOARD_TOKEN=stack.token("leader.view", people.org, "viewer"),
               GONGKAI_DASHBOARD_ORG=people.org, HOME=str(tmp_path))
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail("the dashboard exited: " + (tmp_path / "dashboard.log").read_text(errors="ignore"))
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the dashboard did not start: " + (tmp_path / "dashboard.log").read_text(errors="ignore"))
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def figure(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for(page, label: str, value: str, timeout: float) -> float:
    """Seconds until the figure shows `value` (fails after `timeout`)."""
    start = time.monotonic()
    while figure(page, label) != value:
        if time.monotonic() - start > timeout:
            pytest.fail(f"{label} still shows {figure(page, label)!r}, not {value!r}, after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_published_item_shows_on_the_open_page_without_a_reload(dashboard_url, api, people):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
            page.goto(dashboard_url)
            page.locator('[data-testid="stMetric"]').filter(has_text="主动公开信息").first.wait_for(timeout=30_000)
            wait_for(page, "主动公开信息", "0 条", timeout=10)
            loads = len(navigations)

            item = api.create(people.author, "meetings")
            assert api.submit(people.author, item["id"]).status_code == 202
            assert api.decide(people.officer, item["id"], "initial").status_code == 200
            published = time.monotonic()
            r = api.decide(people.head, item["id"], "recheck")
            assert r.status_code == 200 and r.json()["status"] == "published", r.text

            waited = wait_for(page, "主动公开信息", "1 条", timeout=5)
            assert time.monotonic() - published <= 5
            assert len(navigations) == loads, f"the page was reloaded: {navigations}"
            wait_for(page, "会议", "1", timeout=2)  # the page receives the fragment's figures one after another
            assert page.get_by_text("暂不可用").count() == 0
            print(f"the figure changed {waited:.2f} s after the item was published")

            # a click on the figure's 明细 lists the item behind it, with a link to its history
            waiting = api.create(people.author, "plans", title="待初审的信息")
            assert api.submit(people.author, waiting["id"]).status_code == 202
            page.get_by_role("button", name="明细").first.click()
            link = page.get_by_role("link", name=item["id"])
            link.wait_for(timeout=5_000)
            assert link.get_attribute("href") == f"{api.stack.url('items')}/items/{item['id']}"
            page.get_by_text("待初审的信息").first.wait_for(state="attached", timeout=5_000)  # the pipeline, live too

            page.wait_for_timeout(1500)  # let the charts settle before the picture
            height = page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
            page.set_viewport_size({"width": 1600, "height": min(int(height), 6000)})  # Streamlit scrolls inside
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
