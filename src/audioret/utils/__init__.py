"""Shared pieces that import nothing else of ours: errors with user-facing messages, atomic file I/O,
audio decoding and windowing, caption normalisation."""
