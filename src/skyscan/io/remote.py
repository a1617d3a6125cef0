"""Remote rasters: ``http(s)://`` and ``s3://`` URLs and GDAL ``/vsi*/`` paths.

A remote image is read by GDAL with HTTP range requests, one window at a time (a
cloud-optimized GeoTIFF is never downloaded whole). The user's form of a path (the URL)
is what skyscan keeps; :func:`gdal_path` turns it into GDAL's (``/vsicurl/``,
``/vsis3/``) only where a file is opened. Credentials and endpoints come from the usual
environment (``AWS_*``, ``GDAL_HTTP_*``), read by GDAL itself; :func:`redact` takes query
strings (pre-signed URLs carry their signature there), user names and passwords, and
the values of secret environment variables out of any text that reaches a log or an
output. :func:`gdal_options` adds timeouts and retries with backoff, unless the
environment sets them.

Sidecars are probed by name (:func:`exists`, :func:`read_bytes`, through GDAL's own
virtual file system, so they use the same credentials and retries); a remote directory
is never listed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import re

from skyscan.errors import ImageReadError

_URL = re.compile(r"^(https?|s3)://", re.IGNORECASE)

# Defaults for remote reads; a value set in the environment wins (GDAL reads it there).
# GDAL doubles GDAL_HTTP_RETRY_DELAY after each retry (backoff); it retries HTTP 429,
# 500, 502, 503, 504 and dropped connections.
REMOTE_DEFAULTS: dict[str, str] = {
    "GDAL_HTTP_MAX_RETRY": "4",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    # GDAL's cache of fetched bytes, shared by every handle of a file in the process: the
    # lanes' readers and their read-ahead (skyscan.io.prefetch) meet there. Read when GDAL
    # first opens a remote file.
    "CPL_VSIL_CURL_CACHE_SIZE": str(128 * 2**20),
    # a window's tiles in several byte ranges are read range by range through that cache
    # (GDAL's parallel multi-range read would fetch them again, past the read-ahead)
    "GDAL_HTTP_MULTIRANGE": "SERIAL",
    # GDAL would otherwise probe ~40 sidecar names per image (.aux, .RPB, .IMD, ...), one
    # request each; skyscan probes the few it uses itself.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}
# Environment variables whose values must never be written anywhere.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "GDAL_HTTP_USERPWD",
    "GDAL_HTTP_HEADERS",
    "GDAL_HTTP_BEARER",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "GS_SECRET_ACCESS_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
MAX_SIDECAR_READ = 16 * 1024 * 1024


def is_remote(path: str | os.PathLike[str]) -> bool:
    """True for ``http(s)://`` and ``s3://`` URLs and GDAL ``/vsi*/`` paths.

    >>> is_remote("s3://bucket/a.tif"), is_remote("/vsicurl/http://h/a.tif"), is_remote("a.tif")
    (True, True, False)
    """
    text = os.fspath(path)
    return bool(_URL.match(text)) or text.startswith("/vsi")


def gdal_path(path: str) -> str:
    """GDAL's name for ``path``: URLs become ``/vsicurl/`` or ``/vsis3/`` paths.

    >>> gdal_path("s3://bucket/dir/a.tif"), gdal_path("https://h/a.tif")
    ('/vsis3/bucket/dir/a.tif', '/vsicurl/https://h/a.tif')
    """
    if path[:5].lower() == "s3://":
        return "/vsis3/" + path[5:]
    if _URL.match(path):
        return "/vsicurl/" + path
    return path


_USERINFO = re.compile(r"(://)[^/\s@'\"]+@")
_QUERY = re.compile(r"\?[^\s'\",:;)]*")


def redact(text: str) -> str:
    """``text`` without query strings, ``user:password@`` and secret variables' values.

    >>> redact("https://u:p@h/a.tif?X-Amz-Signature=abc failed")
    'https://h/a.tif?<redacted> failed'
    """
    out = _QUERY.sub("?<redacted>", _USERINFO.sub(r"\1", text))
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            out = out.replace(value, "<redacted>")
    return out


def display_path(path: str) -> str:
    """The form of ``path`` written to outputs and logs (:func:`redact` for remote paths)."""
    return redact(path) if is_remote(path) else path


def name_of(path: str) -> str:
    """The file name at the end of a path or URL, without any query string.

    >>> name_of("https://h/dir/scene.tif?sig=1")
    'scene.tif'
    """
    return path.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def sibling(path: str, name: str) -> str:
    """The file ``name`` beside remote ``path`` (a query string is not carried over: a
    pre-signed URL's signature is for its own file).

    >>> sibling("https://h/dir/scene.tif?sig=1", "scene.tfw")
    'https://h/dir/scene.tfw'
    """
    base = path.split("?", 1)[0].split("#", 1)[0]
    return base.rsplit("/", 1)[0] + "/" + name


# Truncated files must fail, not decode to plausible pixels: libjpeg only *warns* on
# truncated data (GDAL then returns grey), and GDAL 3.10's whole-image PNG fast path
# returns garbage without an error; the regular PNG path reports it (same speed on chips).
# GDAL lists an image's whole directory on every open by default, to look for sidecars
# (.aux.xml, .ovr, .msk, world files) in the list. In a folder of many images that makes
# each open cost in proportion to the folder. With the listing off GDAL probes each
# sidecar it wants by name instead, and finds the same files.
_GDAL_ENV = {
    "GDAL_ERROR_ON_LIBJPEG_WARNING": "TRUE",
    "GDAL_PNG_WHOLE_IMAGE_OPTIM": "NO",
    "GDAL_DISABLE_READDIR_ON_OPEN": "YES",
}


def gdal_env(path: str) -> dict[str, str]:
    """The GDAL configuration skyscan reads ``path`` with (remote paths: timeouts, retries)."""
    return {**_GDAL_ENV, **gdal_options(path)}


def gdal_options(path: str) -> dict[str, str]:
    """GDAL configuration for reading ``path``: for a remote path, the timeout and retry
    defaults the environment does not set (empty for a local path)."""
    if not is_remote(path):
        return {}
    return {k: v for k, v in REMOTE_DEFAULTS.items() if k not in os.environ}


# ------------------------------------------------------------------ GDAL's virtual files


@functools.cache
def gdal_lib() -> ctypes.CDLL:
    """The GDAL library rasterio runs on (the same instance, so the same configuration)."""
    import rasterio
    import rasterio._base  # loads libgdal

    base = os.path.dirname(os.path.dirname(rasterio.__file__))
    candidates = sorted(glob.glob(os.path.join(base, "rasterio.libs", "libgdal*.so*")))
    if not candidates and os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps", encoding="utf-8") as maps:
            candidates = sorted(
                {line.split()[-1] for line in maps if "libgdal" in line.split()[-1]}
            )
    if not candidates and (found := ctypes.util.find_library("gdal")):
        candidates = [found]
    if not candidates:  # pragma: no cover - rasterio always loads a libgdal
        raise ImageReadError(
            "cannot find the GDAL library rasterio uses (needed for remote sidecars)"
        )
    lib = ctypes.CDLL(candidates[0])
    lib.VSIFOpenL.restype = ctypes.c_void_p
    lib.VSIFOpenL.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.VSIFReadL.restype = ctypes.c_size_t
    lib.VSIFReadL.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    lib.VSIFCloseL.argtypes = [ctypes.c_void_p]
    lib.VSIFSeekL.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]
    lib.VSIFTellL.restype = ctypes.c_uint64
    lib.VSIFTellL.argtypes = [ctypes.c_void_p]
    lib.CPLGetLastErrorMsg.restype = ctypes.c_char_p
    lib.CPLErrorReset.restype = None
    return lib


def _open(path: str) -> int | None:
    import rasterio

    lib = gdal_lib()
    with rasterio.Env(**gdal_options(path)):
        lib.CPLErrorReset()
        handle = lib.VSIFOpenL(gdal_path(path).encode(), b"rb")
    return int(handle) if handle else None


def exists(path: str) -> bool:
    """True when the remote file ``path`` can be opened (one request; never a listing)."""
    handle = _open(path)
    if handle is None:
        return False
    gdal_lib().VSIFCloseL(handle)
    return True


def size(path: str) -> int | None:
    """The size of the remote file ``path`` in bytes (GDAL learns it when opening it)."""
    handle = _open(path)
    if handle is None:
        return None
    lib = gdal_lib()
    try:
        lib.VSIFSeekL(handle, 0, 2)  # SEEK_END
        return int(lib.VSIFTellL(handle))
    finally:
        lib.VSIFCloseL(handle)


def read_bytes(path: str, limit: int = MAX_SIDECAR_READ) -> bytes:
    """The content of the remote file ``path``, refused past ``limit`` bytes."""
    import rasterio

    handle = _open(path)
    if handle is None:
        raise ImageReadError(f"{redact(path)}: cannot open")
    lib = gdal_lib()
    try:
        buf = ctypes.create_string_buffer(limit + 1)
        with rasterio.Env(**gdal_options(path)):
            n = lib.VSIFReadL(buf, 1, limit + 1, handle)
    finally:
        lib.VSIFCloseL(handle)
    if n > limit:
        raise ImageReadError(f"{redact(path)}: larger than {limit} bytes")
    return buf.raw[:n]


def head_is_complete(path: str, limit: int = 1 << 20) -> bool:
    """Whether the first ``min(size, limit)`` bytes of remote ``path`` arrive in full.

    GDAL takes a connection cut inside a header for the end of the file: the open fails as
    "not recognized" or succeeds without the tags it could not read (a GeoTIFF's CRS or
    transform). Reading the header again tells such a cut from a file that is like that."""
    import rasterio

    total = size(path)
    handle = None if total is None else _open(path)
    if total is None or handle is None:
        return True  # not there at all: the open's own error says so
    want = min(total, limit)
    lib = gdal_lib()
    try:
        buf = ctypes.create_string_buffer(max(want, 1))
        with rasterio.Env(**gdal_options(path)):
            n = lib.VSIFReadL(buf, 1, want, handle)
    finally:
        lib.VSIFCloseL(handle)
    return int(n) == want


# ------------------------------------------------------------------ errors


_STATUS = re.compile(r"HTTP response code:\s*(\d{3})")
# what S3-like services say instead of a status code (GDAL relays their error message)
_S3_NOT_FOUND = re.compile(
    r"NoSuchKey|NoSuchBucket|key does not exist|bucket does not exist", re.IGNORECASE
)
_S3_DENIED = re.compile(
    r"AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Access Denied|"
    r"credentials",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"timed? ?out|connection|recv failure|transfer closed|couldn't connect|"
    r"IReadBlock failed|TIFFRead|Cannot read|curl error|Read failed|partial",
    re.IGNORECASE,
)


def explain(path: str, reason: str) -> tuple[str, bool]:
    """A user's reading of a failed remote access: ``(message, transient)``.

    404 and 403 are permanent (``transient`` false); 5xx, time-outs, dropped
    connections and short reads are transient: the server may answer the next time, so
    ``--resume`` tries them again.

    >>> explain("https://h/a.tif", "HTTP response code: 403")[0]
    'access denied (HTTP 403): check the credentials (AWS_*, GDAL_HTTP_*) and the URL'
    """
    m = _STATUS.search(reason)
    code = int(m.group(1)) if m else None
    if code is None and _S3_NOT_FOUND.search(reason):
        code = 404
    elif code is None and _S3_DENIED.search(reason):
        code = 403
    if code is not None:
        if code == 404:
            return "not found (HTTP 404)", False
        if code in (401, 403):
            return (
                f"access denied (HTTP {code}): check the credentials (AWS_*, GDAL_HTTP_*) "
                "and the URL"
            ), False
        if code >= 500 or code == 429:
            return f"server error (HTTP {code}) {_AFTER_RETRIES}", True
        return f"HTTP {code}", False
    if _TRANSIENT.search(reason):
        return _CUT_OFF, True
    return "", False


_AFTER_RETRIES = "after GDAL's retries"
CUT_OFF = "the server stopped answering or the file ended early"
_CUT_OFF = CUT_OFF


def is_transient(error_type: str, message: str) -> bool:
    """Whether an error row (type and message, as an engine that caught it elsewhere has
    them) is one :func:`explain` called transient."""
    return error_type == "RemoteReadError" and (_AFTER_RETRIES in message or _CUT_OFF in message)
