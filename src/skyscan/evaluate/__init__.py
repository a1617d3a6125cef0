"""Scoring detections against labels: metrics (pure arrays), the pipeline evaluation
behind ``skyscan evaluate``, the precision-recall plot and drawing detections on images.

Import from the submodules (:mod:`skyscan.evaluate.metrics`, :mod:`skyscan.evaluate.run`,
:mod:`skyscan.evaluate.plot`, :mod:`skyscan.evaluate.render`); this package stays light.
"""
