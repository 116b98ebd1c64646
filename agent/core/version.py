"""The version of gui-agent, which episodes record: here in core, so that core and demos need not import
the package root (and the API through it)."""

__version__ = "0.1.0"  # pyproject.toml reads it here
