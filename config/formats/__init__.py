"""Candor's date formats (FORMAT_MODULE_PATH in config/settings.py)."""
