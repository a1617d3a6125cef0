"""The detection options are declared once (skyscan.options) and every interface follows:
each declared field is an option of every command that runs detection and a keyword of
skyscan.detect, with the same default, and nothing else is."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import click
import pytest
from click.testing import CliRunner

import skyscan
from skyscan.cli import COMMANDS, LazyGroup
from skyscan.cli.options import settings_options
from skyscan.errors import InputError
from skyscan.options import DetectSettings, RunSettings, StacSettings, _option, option_specs
from skyscan.pipeline import DetectOptions

SETTINGS = (DetectSettings, RunSettings, StacSettings)
DECLARED = {name: default for cls in SETTINGS for name, _, default, _ in option_specs(cls)}
DETECT_ONLY = {name: default for name, _, default, _ in option_specs(DetectSettings)}
STAC = {name: default for name, _, default, _ in option_specs(StacSettings)}


def command(name: str) -> click.Command:
    cmd = LazyGroup._load(name)
    assert cmd is not None, name
    return cmd


def cli_defaults(cmd: click.Command) -> dict[str, Any]:
    return {p.name: p.default for p in cmd.params if isinstance(p, click.Option) and p.name}


@pytest.mark.parametrize(
    ("name", "declared", "own"),
    [
        ("detect", DECLARED, {"outdir", "make_map"}),
        (
            "evaluate",
            DETECT_ONLY,
            {
                "labels",
                "fmt",
                "classes",
                "name_list",
                "iou",
                "overrides",
                "allow_unlabelled",
                "ignore_regions",
                "angles",
                "against",
                "output",
                "plot",
                "record_key",
                "overwrite",
            },
        ),
        (
            "plan",
            {**DETECT_ONLY, "recursive": True, "mosaic": False, **STAC},
            {"rate", "no_bytes", "as_json"},
        ),
        ("render", DETECT_ONLY, {"outdir", "scale"}),
    ],
)
def test_every_declared_option_is_a_cli_option_and_nothing_else(
    name: str, declared: dict[str, Any], own: set[str]
) -> None:
    options = cli_defaults(command(name))
    assert {k: options[k] for k in declared if k in options} == declared
    assert set(options) - set(declared) == own  # the command's own options, not detection options


def test_every_declared_option_is_an_api_keyword_with_its_type_and_default() -> None:
    signature = inspect.signature(skyscan.detect)
    params = {n: p for n, p in signature.parameters.items() if n not in ("inputs", "outdir")}
    assert {n: p.default for n, p in params.items()} == DECLARED
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    # both are the annotations as written (postponed evaluation): the same text
    declared_types = {f.name: f.type for cls in SETTINGS for f in dataclasses.fields(cls)}
    assert {n: p.annotation for n, p in params.items()} == declared_types


def test_help_shows_the_real_functions_with_every_parameter() -> None:
    import skyscan.api
    import skyscan.api_inspect
    import skyscan.viz.build

    assert skyscan.detect is skyscan.api.detect
    assert skyscan.inspect is skyscan.api_inspect.inspect
    assert skyscan.map is skyscan.viz.build.make_map
    text = pydoc.render_doc(skyscan.detect, renderer=pydoc.plaintext)
    declared_types = {f.name: f.type for cls in SETTINGS for f in dataclasses.fields(cls)}
    for name, default in DECLARED.items():  # e.g. chip_size: 'int | None' = None
        assert f"{name}: {declared_types[name]!r} = {default!r}" in text, name


def test_import_skyscan_stays_light_and_version_comes_from_the_package() -> None:
    from importlib.metadata import version

    probe = (
        "import sys, skyscan; heavy = [m for m in ('skyscan.api', 'skyscan.pipeline', 'numpy', 'click') "
        "if m in sys.modules]; print(heavy, skyscan.__version__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["[]", version("skyscan")]
    assert "detect" in dir(skyscan) and set(skyscan.__all__) <= set(dir(skyscan))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = skyscan.nothing  # type: ignore[attr-defined]


def test_default_settings_build_the_default_pipeline_options() -> None:
    assert DetectSettings().detect_options() == DetectOptions()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"overlap": 0.7}, r"'overlap' must be in \[0, 0.5\] \(got 0.7\)"),
        ({"gsd": 0.0}, r"'gsd' must be > 0"),
        ({"chip_size": 0}, r"'chip_size' must be >= 1"),
        ({"score_threshold": float("nan")}, r"'score_threshold' must be a finite number"),
        ({"chip_size": 2.5}, r"'chip_size' must be an integer"),
        ({"strict_range": "yes"}, r"'strict_range' must be True or False"),
    ],
)
def test_declared_ranges_are_checked_in_the_api_and_on_the_command_line(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        DetectSettings(**values)
    ((name, value),) = values.items()
    if isinstance(value, float):
        flag = "--" + name.replace("_", "-")
        result = CliRunner().invoke(command("detect"), ["in.tif", "-o", "out", flag, str(value)])
        assert result.exit_code == 2 and flag in result.output


def test_run_settings_check_their_choices_and_refuse_overwrite_with_resume() -> None:
    with pytest.raises(InputError, match="'engine' must be one of 'local', 'spark'"):
        RunSettings(engine="dask")
    with pytest.raises(InputError, match="choose one of 'overwrite' and 'resume'"):
        RunSettings(overwrite=True, resume=True)
    result = CliRunner().invoke(
        command("detect"), ["in.tif", "-o", "out", "--overwrite", "--resume"]
    )
    assert result.exit_code == 2 and "choose one of --overwrite and --resume" in result.output


def test_a_new_declared_field_becomes_a_checked_cli_option() -> None:
    @dataclasses.dataclass(frozen=True)
    class Extended(DetectSettings):
        tile_limit: int | None = _option(None, "At most this many tiles an image.", low=1)

    seen: dict[str, Any] = {}

    @click.command()
    @settings_options(Extended)  # type: ignore[arg-type]
    def probe(**values: Any) -> None:
        seen.update(values)

    runner = CliRunner()
    assert re.search(
        r"--tile-limit INTEGER RANGE +At most this many tiles an image\.",
        runner.invoke(probe, ["--help"]).output,
    )
    assert runner.invoke(probe, ["--tile-limit", "3", "--overlap", "0.1"]).exit_code == 0
    assert Extended.pick(seen) == Extended(tile_limit=3, overlap=0.1)
    assert runner.invoke(probe, ["--tile-limit", "0"]).exit_code == 2
    with pytest.raises(InputError, match="'tile_limit' must be >= 1"):
        Extended(tile_limit=0)


def test_every_listed_command_loads() -> None:
    for name in COMMANDS:
        assert isinstance(command(name), click.Command)


def _names(func: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(func).parameters)


def test_evaluate_and_spark_take_the_declared_settings() -> None:
    from skyscan.evaluate.rotated import evaluate_turned
    from skyscan.evaluate.run import evaluate
    from skyscan.spark import detect as spark_detect

    for func in (evaluate, evaluate_turned, spark_detect):
        assert not _names(func) & set(DECLARED), (
            func.__name__
        )  # no option restated beside the settings
    assert "settings" in _names(evaluate) and "settings" in _names(evaluate_turned)


def test_tuple_options_repeat_or_split_on_their_separator_and_need_a_stac_source() -> None:
    settings = StacSettings(
        stac="catalog.json", bbox="8.4,47.3,8.6,47.4", stac_properties="gsd, platform"
    )
    assert settings.stac == ("catalog.json",) and settings.bbox == (8.4, 47.3, 8.6, 47.4)
    assert settings.stac_properties == ("gsd", "platform")
    with pytest.raises(InputError, match="'bbox' must hold 4 values"):
        StacSettings(stac=("c.json",), bbox=(1, 2, 3))
    with pytest.raises(InputError, match="collections, stac_max_items: need --stac SOURCE"):
        StacSettings(collections=["x"], stac_max_items=2)

    seen: dict[str, Any] = {}

    @click.command()
    @settings_options(StacSettings)
    def probe(**values: Any) -> None:
        seen.update(values)

    runner = CliRunner()
    args = [
        "--stac",
        "a.json",
        "--stac",
        "b.json",
        "--collection",
        "x",
        "--bbox",
        "1,2,3,4",
        "--stac-properties",
        "p,q",
    ]
    assert runner.invoke(probe, args).exit_code == 0
    assert StacSettings.pick(seen) == StacSettings(
        stac=("a.json", "b.json"),
        collections=("x",),
        bbox=(1.0, 2.0, 3.0, 4.0),
        stac_properties=("p", "q"),
    )
    assert runner.invoke(probe, ["--bbox", "1,2,x,4"]).exit_code == 2
