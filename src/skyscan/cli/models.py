"""``skyscan models``: list the builtin models and their cards."""

from __future__ import annotations

import click


@click.command("models")
def models_command() -> None:
    """List the models shipped with skyscan."""
    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import BUILTIN_DIR, builtin_models

    names = builtin_models()
    if not names:
        click.echo("no builtin models shipped")
    for name in names:
        card = load_card(BUILTIN_DIR / f"{name}.onnx")
        classes = ", ".join(f"{c.name}({c.xview_type_id})" for c in card.classes)
        click.echo(
            f"{name}\t{card.model_id}\tgsd={card.gsd} m\tinput={card.input_size}\tclasses: {classes}"
        )
