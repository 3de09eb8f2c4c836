"""The checkpoint layer: weight formats, conversion to our parameter names, named weights."""
