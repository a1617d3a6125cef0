"""Click parameter types shared by the commands.

``FiniteFloat`` is every float option's type: click's ``FloatRange`` lets ``nan`` through
(every comparison with it is false) and ``inf`` through an open upper end, and a NaN
threshold or GSD would silently run and find nothing.
"""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.FloatRange):
    """A float option, optionally in a range, that refuses ``nan`` and ``±inf``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


FINITE = FiniteFloat()
