"""Options that several commands share, declared once so that they read the same in
every command's ``--help``. The detection options come from their declarations in
:mod:`skyscan.options` (:func:`settings_options`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

import click

from skyscan.cli.params import FiniteFloat
from skyscan.options import METADATA_HELP, OptionSpec, _Declared, item_kind, option_specs

F = TypeVar("F", bound=Callable[..., Any])


def metadata_option(func: F) -> F:
    """``--metadata TABLE``, passed to the command as ``metadata_table``."""
    return click.option(
        "--metadata",
        "metadata_table",
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help=METADATA_HELP,
    )(func)


def require_inputs(inputs: tuple[str, ...], stac: tuple[str, ...]) -> None:
    """A run needs something to read: INPUTS, --stac sources or both."""
    if not inputs and not stac:
        raise click.UsageError("give INPUTS (files, directories, globs, URLs) or --stac SOURCE")


def settings_options(
    cls: type[_Declared],
    *,
    only: Collection[str] | None = None,
) -> Callable[[F], F]:
    """A decorator adding one click option per field of ``cls`` (or the fields in ``only``),
    in declaration order, each passed to the command under its field name."""

    def decorate(func: F) -> F:
        # click lists options in the order their decorators apply from the top: the last
        # applied is listed first, so apply them in reverse
        for name, kind, default, spec in reversed(option_specs(cls)):
            if only is None or name in only:
                item = item_kind(cls, name) if kind is tuple else None
                func = option_for(name, kind, default, spec, item)(func)
        return func

    return decorate


def option_for(
    name: str,
    kind: type,
    default: object,
    spec: OptionSpec,
    item: tuple[type, int | None] | None = None,
) -> Callable[[F], F]:
    """The click option of one declared field (``item``: a tuple field's item type and length)."""
    flag = spec.flag or "--" + name.replace("_", "-")
    if kind is tuple:
        item_type, length = item or (str, None)
        if spec.separator is None:  # repeatable: --collection A --collection B
            return click.option(
                flag,
                name,
                type=_param_type(item_type, spec),
                multiple=True,
                default=default,
                metavar=spec.metavar,
                help=spec.help,
            )
        return click.option(
            flag,
            name,
            type=Separated(item_type, spec.separator, length),
            default=default,
            metavar=spec.metavar,
            help=spec.help,
        )
    if kind is bool:
        decls = [f"{flag}/--no-{flag[2:]}" if default else flag, name]
        return click.option(
            *decls, is_flag=True, default=default, show_default=bool(default), help=spec.help
        )
    return click.option(
        flag,
        name,
        type=_param_type(kind, spec),
        default=default,
        show_default=default is not None,
        metavar=spec.metavar,
        help=spec.help,
    )


def _param_type(kind: type, spec: OptionSpec) -> click.ParamType:
    """The click type of one value of a declared field."""
    param_type: click.ParamType
    if kind is float:
        param_type = FiniteFloat(
            spec.low, spec.high, min_open=spec.low_open, max_open=spec.high_open
        )
    elif kind is int:
        low, high = (None if b is None else int(b) for b in (spec.low, spec.high))
        param_type = (
            click.IntRange(low, high, min_open=spec.low_open, max_open=spec.high_open)
            if low is not None or high is not None
            else click.INT
        )
    elif spec.choices:
        param_type = click.Choice(spec.choices)
    elif spec.path:
        param_type = click.Path(exists=True, dir_okay=False)
    else:
        param_type = click.STRING
    return param_type


class Separated(click.ParamType):
    """One option value holding several, split on ``separator`` (``8.4,47.3,8.6,47.4``)."""

    name = "list"

    def __init__(self, item: type, separator: str, length: int | None) -> None:
        self.item, self.separator, self.length = item, separator, length

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):  # the default, or a value converted already
            return value
        parts = [p.strip() for p in str(value).split(self.separator) if p.strip()]
        if self.length is not None and len(parts) != self.length:
            self.fail(
                f"expected {self.length} values separated by {self.separator!r} (got {value!r})",
                param,
                ctx,
            )
        try:
            return tuple(self.item(p) for p in parts)
        except ValueError:
            self.fail(
                f"expected {self.item.__name__} values separated by {self.separator!r} (got {value!r})",
                param,
                ctx,
            )
