"""Where models come from: a builtin name shipped in the package, or a file path.

Models are files; nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

from skyscan.errors import ModelError

BUILTIN_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "vehicles"


def builtin_models() -> list[str]:
    """Names of the models shipped inside the package."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.onnx") if p.with_suffix(".json").is_file())


def resolve_model(model: str | Path) -> Path:
    """A builtin name (``vehicles``) or a path to a model file → the model file's path."""
    text = str(model)
    candidate = BUILTIN_DIR / f"{text}.onnx"
    if "/" not in text and "\\" not in text and candidate.is_file():
        return candidate
    path = Path(text).expanduser()
    if path.is_file():
        return path
    raise ModelError(
        f"model {text!r} not found: expected a builtin name ({', '.join(builtin_models()) or 'none shipped'}) "
        "or the path of a model file"
    )
