"""Render BPMN files with bpmn-js in headless Chromium; report import warnings and drawn elements, optionally PNGs.

    python tools/render/render.py bpmn/*.bpmn --out /tmp/render     # JSON report on stdout, PNGs in /tmp/render

`round_trip()` does what an analyst's editor does instead: opens a file in the bpmn-js *modeler*, nudges one
shape and saves, so tests can check that the diagram conventions survive an edit in bpmn.io / Camunda Modeler.

Needs `npm install` at the repository root (bpmn-js) and Debian's chromium (/usr/bin/chromium); Playwright only
drives that browser (never run `playwright install`). Nothing is fetched from the network: the page is built
from the local bpmn-js bundle and all other requests are aborted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIEWER_JS = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-navigated-viewer.production.min.js"
MODELER_JS = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.production.min.js"
VIEWER_CSS = ROOT / "node_modules" / "bpmn-js" / "dist" / "assets"
CHROMIUM = os.environ.get("ALUR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
html, body { margin: 0; padding: 0; background: white; }
#canvas { width: 100vw; height: 100vh; }
</style></head><body><div id="canvas"></div></body></html>"""

IMPORT_JS = """async (xml) => {
  if (window.viewer) { window.viewer.destroy(); }
  window.viewer = new BpmnJS({ container: '#canvas' });
  const result = { warnings: [], error: null, rendered: [], bbox: null };
  try {
    const { warnings } = await window.viewer.importXML(xml);
    result.warnings = warnings.map((w) => String(w.message || w));
  } catch (err) {
    result.error = String(err.message || err);
    result.warnings = (err.warnings || []).map((w) => String(w.message || w));
    return result;
  }
  const registry = window.viewer.get('elementRegistry');
  result.rendered = registry.getAll()
    .filter((e) => e.businessObject && e.businessObject.id && !e.labelTarget && e.type !== 'label')
    .filter((e) => registry.getGraphics(e))
    .map((e) => e.businessObject.id);
  const canvas = window.viewer.get('canvas');
  const box = canvas.getActiveLayer().getBBox();
  result.bbox = { x: box.x, y: box.y, width: box.width, height: box.height };
  return result;
}"""

SHOW_ALL_JS = """(margin) => {
  const canvas = window.viewer.get('canvas');
  const box = canvas.getActiveLayer().getBBox();
  canvas.viewbox({ x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin,
                   height: box.height + 2 * margin });
}"""


@dataclass
class Rendering:
    path: str
    warnings: list = field(default_factory=list)
    error: str | None = None
    rendered: list = field(default_factory=list)
    png: str | None = None


@contextmanager
def browser_page(width: int = 1600, height: int = 1000, bundle: Path = VIEWER_JS):
    """A Chromium page holding a local bpmn-js bundle (the viewer unless told otherwise)."""
    from playwright.sync_api import sync_playwright

    if not bundle.exists():
        raise FileNotFoundError(f"{bundle} is missing: run `npm install` at the repository root")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", lambda route: route.abort())  # offline: everything is inlined below
            page.set_content(PAGE)
            for css in ("diagram-js.css", "bpmn-js.css"):
                page.add_style_tag(path=str(VIEWER_CSS / css))
            page.add_script_tag(path=str(bundle))
            yield page
        finally:
            browser.close()


def render(paths, out_dir: str | Path | None = None, scale: float = 1.0) -> list[Rendering]:
    """Import each BPMN file into bpmn-js; with out_dir, also write <name>.png of the whole diagram."""
    results = []
    with browser_page() as page:
        for path in map(Path, paths):
            data = page.evaluate(IMPORT_JS, path.read_text(encoding="utf-8"))
            result = Rendering(str(path), data["warnings"], data["error"], data["rendered"])
            if out_dir is not None and not result.error and data["bbox"]:
                margin = 20
                box = data["bbox"]
                width = int((box["width"] + 2 * margin) * scale)
                height = int((box["height"] + 2 * margin) * scale)
                page.set_viewport_size({"width": max(width, 200), "height": max(height, 200)})
                page.evaluate(IMPORT_JS, path.read_text(encoding="utf-8"))  # re-layout in the new viewport
                page.evaluate(SHOW_ALL_JS, margin)
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                png = Path(out_dir) / (path.stem + ".png")
                page.screenshot(path=str(png), full_page=False)
                result.png = str(png)
            results.append(result)
    return results


ROUND_TRIP_JS = """async ([xml, nudge]) => {
  const modeler = new BpmnJS({ container: '#canvas' });
  await modeler.importXML(xml);
  if (nudge) {
    const shape = modeler.get('elementRegistry').get(nudge);
    modeler.get('modeling').moveElements([shape], { x: 0, y: 4 });
  }
  const { xml: saved } = await modeler.saveXML({ format: true });
  modeler.destroy();
  return saved;
}"""


def round_trip(paths, nudge: str | None = None) -> dict[str, str]:
    """Open each file in the bpmn-js modeler, optionally move element `nudge` by 4px, and return the saved XML."""
    saved = {}
    with browser_page(bundle=MODELER_JS) as page:
        for path in map(Path, paths):
            saved[str(path)] = page.evaluate(ROUND_TRIP_JS, [path.read_text(encoding="utf-8"), nudge])
    return saved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="BPMN files")
    parser.add_argument("--out", help="directory for PNG renderings")
    parser.add_argument("--scale", type=float, default=1.0, help="PNG scale (viewport size factor)")
    args = parser.parse_args(argv)
    results = render(args.files, args.out, args.scale)
    json.dump([asdict(r) for r in results], sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if any(r.error or r.warnings for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
