"""course_utils: the small library behind the "Deconvolution, visualized" notebooks.

One module per idea: ``data`` (the curves), ``deconv`` (the maths of a transposed
convolution), ``models`` (the patch autoencoder in Flax NNX), ``training`` (the
compiled multi-seed training engine), ``plotting`` and ``widgets``.
"""

__version__ = "0.1.0"
