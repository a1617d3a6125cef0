"""Options that several commands share, declared once so that they read the same in
every command's ``--help``. The detection options come from their declarations in
:mod:`skyscan.options` (:func:`settings_options`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

import click

from skyscan.cli.params import FiniteFloat
from skyscan.options import METADATA_HELP, DetectSettings, OptionSpec, RunSettings, option_specs

F = TypeVar("F", bound=Callable[..., Any])


def metadata_option(func: F) -> F:
    """``--metadata TABLE``, passed to the command as ``metadata_table``."""
    return click.option("--metadata", "metadata_table", default=None,
                        type=click.Path(exists=True, dir_okay=False), help=METADATA_HELP)(func)


def settings_options(
    cls: type[DetectSettings] | type[RunSettings], *, only: Collection[str] | None = None,
) -> Callable[[F], F]:
    """A decorator adding one click option per field of ``cls`` (or the fields in ``only``),
    in declaration order, each passed to the command under its field name."""

    def decorate(func: F) -> F:
        # click lists options in the order their decorators apply from the top: the last
        # applied is listed first, so apply them in reverse
        for name, kind, default, spec in reversed(option_specs(cls)):
            if only is None or name in only:
                func = option_for(name, kind, default, spec)(func)
        return func

    return decorate


def option_for(name: str, kind: type, default: object, spec: OptionSpec) -> Callable[[F], F]:
    """The click option of one declared field."""
    flag = spec.flag or "--" + name.replace("_", "-")
    if kind is bool:
        decls = [f"{flag}/--no-{flag[2:]}" if default else flag, name]
        return click.option(*decls, is_flag=True, default=default, show_default=bool(default), help=spec.help)
    param_type: click.ParamType
    if kind is float:
        param_type = FiniteFloat(spec.low, spec.high, min_open=spec.low_open, max_open=spec.high_open)
    elif kind is int:
        low, high = (None if b is None else int(b) for b in (spec.low, spec.high))
        param_type = (click.IntRange(low, high, min_open=spec.low_open, max_open=spec.high_open)
                      if low is not None or high is not None else click.INT)
    elif spec.choices:
        param_type = click.Choice(spec.choices)
    elif spec.path:
        param_type = click.Path(exists=True, dir_okay=False)
    else:
        param_type = click.STRING
    return click.option(flag, name, type=param_type, default=default, show_default=default is not None,
                        metavar=spec.metavar, help=spec.help)
