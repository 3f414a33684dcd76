"""Headless Chromium with the network cut off, for the book's browser test and screenshots.

Each call starts a fresh browser with its own throw-away profile, loads one page (usually a
``file://`` page of the built book), and either dumps the DOM after the page's scripts ran
(``--dump-dom`` with a virtual-time budget, so MathJax and the widget manager have finished)
or saves a PNG screenshot. Every request that would leave the machine fails: all host names
resolve to nothing and all traffic goes to a closed local proxy port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags that make the network unavailable to the page.
OFFLINE_FLAGS = ("--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND")

BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``$CHROMIUM`` first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError(
            "no Chromium found (looked for $CHROMIUM and " + ", ".join(CANDIDATES) + "); "
            "`make chromium` installs Debian's chromium"
        )
    with tempfile.TemporaryDirectory(prefix="bioal-chromium-") as profile:
        command = [browser, *BASE_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"chromium failed ({result.returncode}) on {args[-1]}:\n{result.stderr[-3000:]}")
    return result


def dump_dom(url: str, budget_ms: int = 20000, window: tuple[int, int] = (1280, 1600), timeout: float = 180) -> str:
    """The page's DOM after its scripts ran for ``budget_ms`` of virtual time, as HTML."""
    result = _run(
        [f"--window-size={window[0]},{window[1]}", f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        timeout,
    )
    return result.stdout


def screenshot(
    url: str, path: str | os.PathLike, budget_ms: int = 20000, window: tuple[int, int] = (1280, 1600), timeout: float = 180
) -> Path:
    """Save a PNG screenshot of ``url`` (first ``window`` pixels) to ``path``."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.png")
    _run(
        [f"--window-size={window[0]},{window[1]}", f"--virtual-time-budget={budget_ms}", f"--screenshot={tmp}", url],
        timeout,
    )
    if not tmp.is_file() or tmp.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot for {url}")
    os.replace(tmp, path)
    return path
