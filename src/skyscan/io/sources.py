"""Turn user inputs (files, directories, globs) into a sorted list of image paths.

What Spark's ``readImages(dir, recursive=True, sampleRatio=0.1)`` did, plus globs and a
deterministic sample: a file is kept when a hash of ``(seed, path)`` falls below the
ratio, so a resumed or distributed run keeps exactly the same files whatever the order
or partitioning of the inputs.

Rules:

- a directory contributes the files under it (recursively unless ``recursive=False``)
  whose extension is in ``extensions`` (case-insensitive);
- a glob (``*``, ``?``, ``[``; ``**`` crosses directories) contributes matching files
  with an image extension;
- a file named explicitly is taken whatever its extension (the user asked for it; a file
  that is not an image then fails with a clear read error), except sidecars;
- sidecars (world files, ``.prj``, ``.aux.xml``, ``.xml``, ``.ovr``) are never images;
- a path that does not exist, a glob that matches nothing or a directory without images
  is an :class:`InputFailure`;
- a remote image (``http(s)://`` or ``s3://`` URL, GDAL ``/vsi*/`` path) is taken as
  given: it is never listed or globbed (a ``?`` there starts a query string), and opening
  it tells whether it exists.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from skyscan.errors import InputError
from skyscan.io import remote

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".tif", ".tiff", ".gtiff", ".jpg", ".jpeg", ".png", ".jp2", ".img", ".vrt"}
)
# Files that describe an image rather than being one.
SIDECAR_SUFFIXES: tuple[str, ...] = (
    ".jgw",
    ".pgw",
    ".tfw",
    ".tifw",
    ".tiffw",
    ".jpgw",
    ".pngw",
    ".wld",
    ".prj",
    ".aux.xml",
    ".xml",
    ".ovr",
    ".msk",
    ".aux",
)
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class InputFailure:
    """One input that failed before detection (``stage`` is ``"ingest"`` or ``"read"``)."""

    path: str
    stage: str
    error: BaseException

    def __post_init__(self) -> None:
        if self.stage not in ("ingest", "read"):
            raise InputError(f"'stage' must be 'ingest' or 'read' (got {self.stage!r})")

    @property
    def message(self) -> str:
        """``ErrorType: message``, as written to the errors table."""
        return f"{type(self.error).__name__}: {self.error}"


def is_sidecar(path: str | Path) -> bool:
    """True for files that describe an image (world file, .prj, .aux.xml, XML, overview)."""
    return str(path).lower().endswith(SIDECAR_SUFFIXES)


def _has_extension(path: str, extensions: Collection[str]) -> bool:
    lower = path.lower()
    return any(lower.endswith(ext) for ext in extensions) and not is_sidecar(lower)


def _normalise_extensions(extensions: Collection[str]) -> frozenset[str]:
    out = set()
    for ext in extensions:
        ext = ext.lower()
        out.add(ext if ext.startswith(".") else "." + ext)
    return frozenset(out)


def _walk(directory: str, recursive: bool) -> Iterable[str]:
    if not recursive:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.is_file():
                    yield entry.path
        return
    for root, dirs, files in os.walk(directory):
        dirs.sort()  # deterministic traversal; the result is sorted anyway
        for name in files:
            yield os.path.join(root, name)


def sample_key(path: str, seed: int) -> float:
    """A uniform number in [0, 1) that depends only on ``(seed, path)``."""
    digest = hashlib.sha256(f"{seed}\0{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def expand_inputs(
    inputs: Sequence[str | Path],
    *,
    recursive: bool = True,
    sample_ratio: float | None = None,
    seed: int = 0,
    extensions: Collection[str] = IMAGE_EXTENSIONS,
) -> tuple[list[str], list[InputFailure]]:
    """Expand files, directories and globs into sorted, de-duplicated absolute paths.

    Returns ``(paths, failures)``; failures are inputs that do not exist, globs that
    match nothing and directories without images (stage ``"ingest"``). With ``sample_ratio`` in (0, 1], a path is kept
    when ``sample_key(path, seed) < sample_ratio`` (the absolute path is hashed).

    >>> paths, failures = expand_inputs(["/nonexistent/x.tif"])
    >>> failures[0].stage
    'ingest'
    """
    if isinstance(inputs, str | Path):
        raise InputError(
            f"'inputs' must be a sequence of paths (got a single {type(inputs).__name__})"
        )
    if sample_ratio is not None and not 0.0 < sample_ratio <= 1.0:
        raise InputError(f"'sample_ratio' must be in (0, 1] (got {sample_ratio})")
    exts = _normalise_extensions(extensions)
    found: set[str] = set()
    failures: list[InputFailure] = []
    for item in inputs:
        if remote.is_remote(item):
            if not is_sidecar(remote.name_of(os.fspath(item))):
                found.add(os.fspath(item))
            continue
        text = os.path.expanduser(os.fspath(item))
        if any(ch in _GLOB_CHARS for ch in text) and not os.path.exists(text):
            matches = [m for m in glob.glob(text, recursive=True) if os.path.isfile(m)]
            images = [m for m in matches if _has_extension(m, exts)]
            if not images:
                failures.append(
                    InputFailure(
                        text,
                        "ingest",
                        InputError(
                            f"{text}: glob matched no image files "
                            f"({len(matches)} other files; image extensions: {sorted(exts)})"
                        ),
                    )
                )
            found.update(os.path.abspath(m) for m in images)
        elif os.path.isdir(text):
            images = [p for p in _walk(text, recursive) if _has_extension(p, exts)]
            if not images:
                # Like a glob that matches nothing: the user named it, so say so in the
                # errors table instead of finishing "successfully" with nothing done.
                failures.append(
                    InputFailure(
                        text,
                        "ingest",
                        InputError(
                            f"{text}: directory holds no image files (recursive={recursive}; "
                            f"image extensions: {sorted(exts)})"
                        ),
                    )
                )
            found.update(os.path.abspath(p) for p in images)
        elif os.path.isfile(text):
            if is_sidecar(text):
                log.debug("%s: skipped, a sidecar is not an image", text)
                continue
            found.add(os.path.abspath(text))
        else:
            failures.append(
                InputFailure(text, "ingest", InputError(f"{text}: no such file or directory"))
            )
    paths = sorted(found)
    if sample_ratio is not None and sample_ratio < 1.0:
        paths = [p for p in paths if sample_key(p, seed) < sample_ratio]
    return paths, failures


def unique_image_ids(paths: Sequence[str]) -> dict[str, str]:
    """Map each path to an image id that is unique within ``paths``.

    The id is the file stem (``scene.tif`` -> ``scene``). Stems shared by several paths
    get the path relative to the paths' common directory, without the extension and with
    ``/`` separators (``a/scene``, ``b/scene``); if that still collides (``scene.tif`` and
    ``scene.png`` in one folder) the extension is kept (``a/scene.tif``).
    """
    stems: dict[str, list[str]] = {}
    for p in paths:
        stems.setdefault(Path(_id_path(p)).stem, []).append(p)
    ids: dict[str, str] = {}
    clashing = [p for group in stems.values() if len(group) > 1 for p in group]
    for stem, group in stems.items():
        if len(group) == 1:
            ids[group[0]] = stem
    if clashing:
        root = os.path.commonpath([os.path.abspath(_id_path(p)) for p in clashing])
        rel = {
            p: Path(os.path.relpath(os.path.abspath(_id_path(p)), root)).as_posix()
            for p in clashing
        }
        no_ext = {p: r.rsplit(".", 1)[0] if "." in Path(r).name else r for p, r in rel.items()}
        counts: dict[str, int] = {}
        for v in no_ext.values():
            counts[v] = counts.get(v, 0) + 1
        for p in clashing:
            ids[p] = no_ext[p] if counts[no_ext[p]] == 1 else rel[p]
    return ids


def _id_path(path: str) -> str:
    """A path to name an image by: a remote path's host and path, without its query.

    >>> _id_path("https://host/a/scene.tif?sig=1")
    '/host/a/scene.tif'
    """
    if not remote.is_remote(path):
        return path
    bare = path.split("?", 1)[0].split("#", 1)[0]
    bare = bare.split("://", 1)[-1] if "://" in bare else bare
    return "/" + bare.lstrip("/")
