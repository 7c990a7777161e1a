"""Data: manifests, dataset recipes, audio decoding and text preprocessing."""

from audioret.data.manifest import ManifestRecord, read_manifest, write_manifest

__all__ = ["ManifestRecord", "read_manifest", "write_manifest"]
