"""Part I (notebooks 01-07): a 1-D autoencoder for 15-point curves, and how its
transposed convolution paints the output.

``data`` (the curves and their windows), ``models`` (the patch autoencoder),
``losses`` (reconstruction error with code and input noise), ``analysis`` (aligning
seeds, ablation, PCA), ``full_curve`` (overlaps and borders), ``views`` (four views
of one transposed convolution), ``plotting``, ``animations``, ``explorers`` (Part
I's "Try it" explorers) and ``exercises`` (Part I's exercise checks).
"""
