"""MindSpore networks: the AnimeGANv2 generator (and, for training, discriminator and VGG19)."""
