"""Options that several commands share, declared once so that they read the same in
every command's ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

METADATA_HELP = (
    "CSV/Parquet table of per-image attributes, keyed by an image_id column (the image's id) "
    "and/or a filename column (e.g. scene.tif); its other columns become meta_* columns."
)


def metadata_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--metadata TABLE``, passed to the command as ``metadata_table``."""
    return click.option("--metadata", "metadata_table", default=None,
                        type=click.Path(exists=True, dir_okay=False), help=METADATA_HELP)(func)
