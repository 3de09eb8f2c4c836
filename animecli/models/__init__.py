"""MindSpore networks: the AnimeGANv2 generator, its discriminator and the VGG19 loss network."""
