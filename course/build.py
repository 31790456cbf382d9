"""Build the course site from a tiny run, without executing anything, and check it.

``python course/build.py --run-dir runs/tiny --out build/course [--browser]`` stages a Sphinx source tree in
``<out>/src`` (the pages in ``course/``, the run's executed notebooks with their outputs, the run's report as the
results page with its figures, the student exercise notebooks and the teacher notes, as they lie in the repository), builds HTML with Sphinx and
myst-nb (notebook execution off, every warning an error: a link to a missing page fails the build), then checks that
every local link, image, script and stylesheet in the HTML resolves. ``--browser`` renders every page in headless
Chromium (Playwright driving Debian's ``/usr/bin/chromium``) and fails on a page whose images did not load, that
requested a missing file or the internet, or that logged a JavaScript error. Exit status 1 with the problems listed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).resolve().parent
STAGES = ["00_base_model", "01_depth_up_scaling", "02_continued_pretraining", "03_synthetic_math",
          "04_instruction_tuning", "05_alignment_sdpo", "06_model_merging", "07_evaluation"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def check_run(run_dir: Path) -> None:
    """Refuse a folder that is not a finished tiny run, before any work."""
    missing = [f"{s}/{s}.ipynb" for s in STAGES if not (run_dir / s / f"{s}.ipynb").is_file()]
    if not (run_dir / "summary.md").is_file():
        missing.append("summary.md")
    if missing:
        raise SystemExit(f"{run_dir} is not a finished run (missing {', '.join(missing)}): run `make pipeline` "
                         "(or `solar-repro run --preset tiny --output-dir DIR`) first and pass its folder")


def stage(run_dir: Path, src: Path) -> None:
    """Copy the site's sources into ``src``: pages, README (for its pipeline picture), the run's notebooks,
    figures and report, the student exercises and the teacher notes."""
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(PAGES, src, ignore=shutil.ignore_patterns("build.py", "__pycache__"))
    shutil.copy(ROOT / "README.md", src / "_readme.md")
    (src / "notebooks").mkdir()
    for s in STAGES:
        static_copy(run_dir / s / f"{s}.ipynb", src / "notebooks" / f"{s}.ipynb")
        (src / s).mkdir()
        for figure in (run_dir / s).glob("*.png"):
            shutil.copy(figure, src / s / figure.name)
    shutil.copy(run_dir / "metrics_flat.json", src / "metrics_flat.json")
    report = (run_dir / "summary.md").read_text()
    report = re.sub(r"\]\((\d\d_\w+)/\1\.ipynb\)", r"](notebooks/\1.ipynb)", report)
    (src / "results.md").write_text(report)
    shutil.copytree(ROOT / "exercises", src / "exercises", ignore=shutil.ignore_patterns("solutions"))


def static_copy(notebook: Path, dest: Path) -> None:
    """Copy an executed notebook for a static page: live widgets (tqdm's bars) keep their text fallback, and the
    widget state goes, so no page loads the widget manager from a CDN."""
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
    nbformat.write(nb, dest)


def build(src: Path, html: Path) -> None:
    """Sphinx HTML build, warnings as errors."""
    shutil.rmtree(html, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(src), str(html)])
    if done.returncode:
        raise SystemExit("the site did not build: Sphinx's warnings above name each broken page or link")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.refs.append(a[key])


@functools.cache
def _parse(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text(errors="replace"))
    return parser


def site_pages(html: Path) -> list[Path]:
    """The built pages (not the theme's templates under ``_static``)."""
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.relative_to(html).parts)


def broken_links(html: Path) -> list[str]:
    """Every local ``href``/``src`` in the built pages that names a missing file or anchor (external links are
    not followed: these machines are offline)."""
    _parse.cache_clear()
    problems = []
    for page in site_pages(html):
        for ref in _parse(page).refs:
            url = urlsplit(ref)
            if url.scheme or ref.startswith("//"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            name = page.relative_to(html)
            if not target.exists():
                problems.append(f"{name}: {ref} (no such file)")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _parse(target).ids:
                problems.append(f"{name}: {ref} (no such anchor)")
    return problems


def browser_problems(html: Path, screenshot: Path | None = None) -> list[str]:
    """Render every page in headless Chromium over a local HTTP server; list what failed to render."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    problems: list[str] = []
    pages = [p.relative_to(html).as_posix() for p in site_pages(html)
             if p.name not in ("genindex.html", "search.html")]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            seen: list[str] = []
            page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.append(f"script error: {e}"))
            page.on("response", lambda r: seen.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
            page.route(re.compile(r"^(?!http://127\.0\.0\.1:)"),
                       lambda route: (seen.append(f"needs the internet: {route.request.url}"), route.abort()))
            for name in pages:
                seen.clear()
                page.goto(base + name, wait_until="load")
                images = page.eval_on_selector_all(
                    "article img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
                seen += [f"image did not load: {src}" for src, ok in images if not ok]
                if name.startswith("notebooks/") and not images:
                    seen.append("no figure rendered")
                problems += [f"{name}: {s}" for s in seen]
                if screenshot and name == "index.html":
                    page.screenshot(path=str(screenshot), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "tiny", help="a finished tiny run")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "course", help="src/ and html/ go here")
    parser.add_argument("--browser", action="store_true", help="also render every page in headless Chromium")
    parser.add_argument("--screenshot", type=Path, help="with --browser: a full-page PNG of the front page")
    args = parser.parse_args(argv)
    check_run(args.run_dir)
    src, html = args.out / "src", args.out / "html"
    stage(args.run_dir, src)
    build(src, html)
    problems = broken_links(html)
    if args.browser and not problems:
        problems = browser_problems(html, args.screenshot)
    for p in problems:
        print(p, file=sys.stderr)
    pages = len(site_pages(html))
    print(f"course site: {pages} pages in {html}; "
          + (f"{len(problems)} problem(s)" if problems else "links ok" + (", rendered in Chromium" if args.browser else "")))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
