"""Small shared pieces: errors that carry a user-facing message, atomic file I/O."""
