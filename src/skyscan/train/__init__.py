"""Training skyscan's detector from scratch with PyTorch and exporting it to ONNX.

``data`` (dataset spec, images at a base GSD) → ``sampler`` + ``augment`` (rotated,
scaled, recoloured chips) → ``targets`` (CenterNet heatmaps) → ``loop`` (optimise,
validate by place) → ``export`` (ONNX + model card) → ``quantize`` (optional int8).
``run.train_and_export`` is what ``skyscan train`` calls. torch is imported only by the
modules that need it (install with ``pip install 'skyscan[train]'``).
"""

# The networks ``skyscan train --arch`` builds (train.model.build_model); here, without
# torch, so that the command line can list them.
ARCHITECTURES = ("tiny_centernet", "lite_centernet")

# How a training chip's edge labels the vehicles it cuts (train.sampler); here, without
# torch, so that the command line can list them.
CUT_VEHICLES = ("visible", "centre")
