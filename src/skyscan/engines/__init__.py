"""Engines decide where the pipeline's pure functions run.

``local`` (default): this process, ONNX Runtime using every core, reads overlapped with
inference. ``spark``: PySpark on ``local[*]``, a standalone cluster, or any cluster the
user already has. Engines adapt :mod:`skyscan.pipeline`; they never re-implement it.
"""

ENGINES = ("local", "spark")
