"""MindSpore networks: the AnimeGANv2 generator (and, for training, discriminator and VGG19).

This package module itself stays free of MindSpore so that light code can read these constants.
"""

#: Upsampling modes of the generator; a set of weights works with exactly one of them.
UPSAMPLE_MODES = ("tf", "align", "half-pixel")
