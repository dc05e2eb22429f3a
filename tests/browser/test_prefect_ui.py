"""End to end: the seed run's artifacts as the Prefect UI shows them, in headless Chromium.

Run with ``make browser-test`` (not part of ``make test``). It starts ``prefect server start``
on a free port with a temporary ``PREFECT_HOME``, runs ``newsdedup run data/articles`` against
it, and opens the run's artifacts with Playwright driving the system's Chromium
(``/usr/bin/chromium``, or ``$NEWSDEDUP_CHROMIUM``). The cluster table is saved as
``docs/images/prefect-clusters.png`` (or ``$NEWSDEDUP_SCREENSHOT``).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("NEWSDEDUP_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = Path(os.environ.get("NEWSDEDUP_SCREENSHOT", REPO / "docs" / "images" / "prefect-clusters.png"))
SCREENSHOT_MAX_BYTES = 300_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEYS = (
    "newsdedup-progress",
    "newsdedup-clusters",
    "newsdedup-report",
    "newsdedup-cluster-sizes",
    "newsdedup-output",
)
UI_TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefect_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),  # the UI calls the API on this port
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A Prefect server on a free port; yields its base URL and the environment to use it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = _prefect_env(home, port)
    log = open(home / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the server's children stop with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefect server exited ({process.returncode}):\n{(home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after 120 s:\n{(home / 'server.log').read_text()}")
            time.sleep(0.5)
        yield base, env | {"PREFECT_API_URL": f"{base}/api"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def seed_run(server, tmp_path_factory) -> dict:
    """``newsdedup run data/articles`` against the server: its output, flow run id and artifacts."""
    base, env = server
    output = tmp_path_factory.mktemp("seed") / "output"
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(REPO / "data" / "articles"), "--output", str(output)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = httpx.post(
        f"{base}/api/flow_runs/filter",
        json={"flows": {"name": {"any_": ["newsdedup"]}}, "sort": "START_TIME_DESC", "limit": 1},
    ).json()
    assert runs and runs[0]["state_type"] == "COMPLETED", runs
    flow_run_id = runs[0]["id"]
    artifacts = httpx.post(
        f"{base}/api/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    ).json()
    return {
        "output": output,
        "flow_run_id": flow_run_id,
        "artifacts": {a["key"]: a for a in artifacts},
        "summary": done.stdout.strip().splitlines()[-1],
    }


@pytest.fixture(scope="module")
def page(server):
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium fonts-liberation "
            "(or set NEWSDEDUP_CHROMIUM)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1000}, device_scale_factor=1)
        context.set_default_timeout(UI_TIMEOUT_MS)
        yield context.new_page()
        browser.close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="networkidle")


def _artifact_url(server, seed_run, key: str) -> str:
    base, _ = server
    assert key in seed_run["artifacts"], f"no {key} artifact; the run has {sorted(seed_run['artifacts'])}"
    return f"{base}/artifacts/artifact/{seed_run['artifacts'][key]['id']}"


def test_run_page_lists_the_artifacts(server, seed_run, page):
    base, _ = server
    _open(page, f"{base}/runs/flow-run/{seed_run['flow_run_id']}")
    page.get_by_role("tablist").get_by_text("Artifacts", exact=True).click()
    panel = page.get_by_role("tabpanel")
    for key in KEYS:
        _scroll_until_visible(page, panel.get_by_text(key, exact=True).first)


def _scroll_until_visible(page, locator, seconds: float = UI_TIMEOUT_MS / 1000) -> None:
    """The run page renders artifact cards as they are scrolled to."""
    deadline = time.monotonic() + seconds
    while not locator.is_visible():
        assert time.monotonic() < deadline, f"{locator} never became visible"
        page.mouse.move(700, 600)
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(250)


def test_cluster_table_shows_every_headline(server, seed_run, page):
    headlines = [
        " ".join(h.split()) for h in pq.read_table(seed_run["output"] / "clusters.parquet")["headline"].to_pylist()
    ]
    print(f"\n{seed_run['summary']}\nheadlines in clusters.parquet: {headlines}")
    _open(page, _artifact_url(server, seed_run, "newsdedup-clusters"))
    table = page.locator("table").first
    table.locator("tbody tr").first.wait_for()
    shown = " ".join(table.inner_text().split())
    missing = [h for h in headlines if h not in shown]
    assert not missing, f"headlines missing from the UI table: {missing}\ntable text: {shown[:2000]}"
    _save_screenshot(page, table)


def _save_screenshot(page, table) -> None:
    """The artifact's title, description and table, cropped to the table's visible width."""
    from PIL import Image

    box = table.bounding_box()
    scroller = table.locator("xpath=..").bounding_box() or box  # the table scrolls inside its parent
    left = max(0, scroller["x"] - 16)
    clip = {
        "x": left,
        "y": 0,
        "width": min(scroller["x"] + scroller["width"] + 16, page.viewport_size["width"]) - left,
        "height": min(box["y"] + box["height"] + 24, 1400),
    }
    png = page.screenshot(clip=clip)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    image.save(SCREENSHOT, optimize=True)
    while SCREENSHOT.stat().st_size > SCREENSHOT_MAX_BYTES:
        image = image.resize((image.width * 4 // 5, image.height * 4 // 5), Image.LANCZOS)
        image.save(SCREENSHOT, optimize=True)
    print(f"screenshot: {SCREENSHOT} ({image.width}x{image.height}, {SCREENSHOT.stat().st_size // 1024} KB)")


def test_image_artifacts_render(server, seed_run, page):
    keys = [k for k in ("newsdedup-cluster-sizes", "newsdedup-timeline") if k in seed_run["artifacts"]]
    assert "newsdedup-cluster-sizes" in keys
    for key in keys:
        _open(page, _artifact_url(server, seed_run, key))
        image = page.locator('img[src^="data:image/png"]').first
        image.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("img => img.naturalWidth") > 0


def test_report_renders_as_markdown(server, seed_run, page):
    _open(page, _artifact_url(server, seed_run, "newsdedup-report"))
    heading = page.get_by_role("heading", name="Largest clusters", exact=False).first
    heading.wait_for()
    text = " ".join(page.locator("body").inner_text().split())
    first = pq.read_table(seed_run["output"] / "clusters.parquet")["headline"][0].as_py()
    assert " ".join(first.split()) in text
    assert "| stage |" not in text  # the stage table is rendered, not shown as source
