"""Part II (notebooks 08-13): from 15 numbers to images.

Reusable parts: ``vae`` (models that learn their own code noise), ``upsampling``
(2x upsampling layers), ``checkerboard`` (how checkered an image or kernel is),
``gan`` (a digit generator and its judges), ``shapes`` (images with known masks),
``cnn`` (the shape classifier and its receptive fields), ``attribution`` and
``sanity`` (which pixels mattered, and checks of those maps), ``synthesis``
(activation maximisation and inversion), ``judge_cnn`` (an independent
classifier) and ``textures`` (Gram matrices of random filters, style transfer).
Each notebook's own experiments, figures, explorer and exercises are in its
``*_lesson`` module: ``vae_lesson`` (08), ``checkerboard_lesson`` (09),
``gan_lesson`` (10), ``attribution_lesson`` (11), ``synthesis_lesson`` (12),
``textures_lesson`` (13).
"""
