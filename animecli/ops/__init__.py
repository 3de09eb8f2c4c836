"""Pure NumPy/OpenCV image operations (no MindSpore, no files)."""
