"""Video files through imageio-ffmpeg's bundled ffmpeg: probing, decoding to RGB frames, encoding."""
