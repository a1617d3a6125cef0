"""Two models scored on the same labels, object by object.

Comparing two reports' recall says little on a few dozen labels: both figures move by a
whole object at a time and each carries a wide interval. Pairing them says more: which
labelled objects each model finds at its own threshold, and whether the objects only one
of them finds are more than chance would give (McNemar's exact test); the false detections
of each, at the same place and labels, are compared the same way (the exact conditional
test of two Poisson counts).
"""

from __future__ import annotations

import math

from skyscan.errors import InputError
from skyscan.evaluate.run import EvalReport
from skyscan.types import JsonObject


def two_sided_sign_test(a: int, b: int) -> float:
    """Exact two-sided p of ``a`` against ``b`` when each of the ``a + b`` events is as
    likely to fall either way (McNemar's exact test on discordant pairs; the conditional
    test of two Poisson counts over the same exposure). 1.0 when there are none."""
    n = a + b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(a, b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare(report: EvalReport, baseline: EvalReport) -> JsonObject:
    """``report``'s model against ``baseline``'s on the same labels, per class with labels."""
    if [im.image_path for im in report.labels.images] != [
        im.image_path for im in baseline.labels.images
    ]:
        raise InputError("the two evaluations were not run on the same labelled images")
    classes: JsonObject = {}
    for name, result in report.results.items():
        if result.n_labels == 0:
            continue
        if name not in baseline.results:
            raise InputError(f"the baseline model {baseline.card.model_id} has no class {name!r}")
        mine, theirs = result.found, baseline.results[name].found
        only_mine, only_theirs = int((mine & ~theirs).sum()), int((theirs & ~mine).sum())
        other = baseline.results[name]
        false_mine = result.n_detections - result.n_true
        false_theirs = other.n_detections - other.n_true
        classes[name] = {
            "n_labels": result.n_labels,
            "found_by_both": int((mine & theirs).sum()),
            "found_only_by_model": only_mine,
            "found_only_by_baseline": only_theirs,
            "found_by_neither": int((~mine & ~theirs).sum()),
            "p_found": round(two_sided_sign_test(only_mine, only_theirs), 4),
            "false_detections_model": false_mine,
            "false_detections_baseline": false_theirs,
            "p_false": round(two_sided_sign_test(false_mine, false_theirs), 4),
        }
    return {
        "model": report.card.model_id,
        "baseline": baseline.card.model_id,
        "baseline_path": baseline.model_path,
        "baseline_score_threshold": baseline.score_threshold,
        "note": "each model at its own threshold; p: exact two-sided test that the objects "
        "only one model finds (or the false detections) are as likely to fall either way",
        "classes": classes,
    }
