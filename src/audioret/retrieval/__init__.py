"""Search a sound library: index a folder of audio, query it by text or by example, serve it over HTTP."""

from audioret.retrieval.vectors import Index

__all__ = ["Index"]
