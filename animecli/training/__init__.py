"""Training AnimeGANv2: configuration, data, the training loop and data-parallel set-up."""
