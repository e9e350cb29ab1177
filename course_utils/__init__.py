"""course_utils: the small library behind the "Deconvolution, visualized" notebooks.

One module per idea: ``data`` (the curves), ``deconv`` (the maths of a transposed
convolution), ``models`` (the patch autoencoder in Flax NNX), ``training`` (the
compiled multi-seed training engine), ``analysis`` (aligning seeds, ablation,
PCA), ``full_curve`` (overlaps and borders), ``views`` (four views of one
transposed convolution), ``animation``, ``plotting``, ``widgets`` and ``exercises``.
"""

__version__ = "0.1.0"
