"""Container runtimes behind one CRI-shaped seam (interface.py): simulated now, CRI later."""
