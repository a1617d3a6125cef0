"""Find Leaflet's JS and CSS on this machine, to inline them into the offline map.

Leaflet is never copied into skyscan and never fetched from a CDN: it comes from a
registry package the user installed. Lookup order, first hit wins:

1. ``$SKYSCAN_LEAFLET_DIR``: a directory holding ``leaflet.js`` and ``leaflet.css``
   (for example ``node_modules/leaflet/dist`` after ``npm install leaflet@1.9.4``);
2. the PyPI package ``xstatic-leaflet`` (``pip install 'skyscan[map]'``);
3. ``node_modules/leaflet/dist`` in the current directory or any parent.

The CSS refers to a few small PNGs (layer-switcher icon, default marker); they are
inlined as ``data:`` URIs so the page requests nothing from disk or network.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from skyscan.errors import MissingDependencyError

ENV_VAR = "SKYSCAN_LEAFLET_DIR"
INSTALL_HINT = (
    "pip install 'skyscan[map]' (installs xstatic-leaflet), or npm install leaflet@1.9.4 "
    f"and set {ENV_VAR}=node_modules/leaflet/dist"
)
TEMPLATES = Path(__file__).parent / "templates"

_CSS_URL = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.-]+\.png)\1\)")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's code and stylesheet, ready to inline, and where they came from."""

    js: str
    css: str
    version: str
    source: str  # the directory they were read from


def _version_of(js: str) -> str:
    match = re.search(r'version\s*=\s*"(\d+\.\d+\.\d+[^"]*)"', js)
    return match.group(1) if match else "unknown"


def _inline_images(css: str, directory: Path) -> str:
    """Replace ``url(images/x.png)`` by a data URI (or drop it when the file is absent)."""

    def repl(match: re.Match[str]) -> str:
        image = directory / match.group(2)
        if not image.is_file():
            return "none"
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{encoded})"

    return _CSS_URL.sub(repl, css)


def _read_dir(directory: Path) -> LeafletAssets | None:
    js_path, css_path = directory / "leaflet.js", directory / "leaflet.css"
    if not (js_path.is_file() and css_path.is_file()):
        return None
    # The trailing source-map comment would make devtools request a file; drop it.
    js = _SOURCE_MAP.sub("", js_path.read_text(encoding="utf-8"))
    css = _inline_images(css_path.read_text(encoding="utf-8"), directory)
    return LeafletAssets(js=js, css=css, version=_version_of(js), source=str(directory))


def _candidate_dirs() -> list[tuple[str, Path]]:
    """Places to look, in order, each with a label for the error message."""
    found: list[tuple[str, Path]] = []
    env = os.environ.get(ENV_VAR)
    if env:
        found.append((f"${ENV_VAR}", Path(env).expanduser()))
    try:
        import xstatic.pkg.leaflet as xleaflet

        found.append(("xstatic-leaflet", Path(xleaflet.BASE_DIR)))
    except ImportError:
        pass
    here = Path.cwd().resolve()
    for parent in (here, *here.parents):
        found.append(("node_modules", parent / "node_modules" / "leaflet" / "dist"))
    return found


@functools.lru_cache(maxsize=4)
def _load(env_value: str | None, cwd: str) -> LeafletAssets:
    del env_value, cwd  # cache keys only: a changed env var or directory looks again
    candidates = _candidate_dirs()
    for label, directory in candidates:
        assets = _read_dir(directory)
        if assets is not None:
            return assets
        if label == f"${ENV_VAR}":
            raise MissingDependencyError(
                f"{ENV_VAR}={directory} does not hold leaflet.js and leaflet.css; "
                f"point it at Leaflet's dist directory, or install Leaflet: {INSTALL_HINT}"
            )
    raise MissingDependencyError(
        f"Leaflet is needed for the HTML map; install it with: {INSTALL_HINT}"
    )


def leaflet_assets() -> LeafletAssets:
    """Return Leaflet's JS and CSS, or raise :class:`MissingDependencyError` naming the fix."""
    return _load(os.environ.get(ENV_VAR), os.getcwd())


def template(name: str) -> str:
    """The text of one of skyscan's own map templates (``map.html``, ``map.js``, ``map.css``)."""
    return (TEMPLATES / name).read_text(encoding="utf-8")
