"""audioret: language-based audio retrieval.

Train dual audio/text encoders on audio-caption datasets (the recipe of Munakata et al., DCASE
2024) and search sound collections by text.
"""

from audioret.data.manifest import ManifestRecord, read_manifest, write_manifest
from audioret.utils.errors import AudioretError

__version__ = "0.1.0"
__all__ = ["AudioretError", "ManifestRecord", "__version__", "read_manifest", "write_manifest"]
