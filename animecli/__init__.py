"""animecli: AnimeGANv2 photo/video stylization and training on MindSpore."""

__version__ = "0.1.0"
