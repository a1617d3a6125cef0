"""The local engine: every image in this process, the cores shared as lanes.

:mod:`~skyscan.engines.local.driver` runs the images and writes one checkpoint part per
image; :mod:`~skyscan.engines.local.lanes` shares the cores and one image's batches
among threads.
"""
