"""gui-agent: a desktop GUI agent driven by screen grounding."""

__version__ = "0.1.0"
