"""polyglot-kd: turn a multilingual encoder into a compact language-specific model."""

__version__ = "0.1.0"
