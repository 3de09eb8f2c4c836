"""Training AnimeGANv2: loss weights, compiled D/G steps, data, the trainer."""
