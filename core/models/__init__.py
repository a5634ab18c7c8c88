"""Models and voices to download: the catalogue, the downloads, and suggestions per language."""

from voxdesk.core.models.catalogue import CatalogueEntry, catalogue, suggest_model
from voxdesk.core.models.store import (
    DownloadCancelled,
    DownloadPlan,
    DownloadProgress,
    ModelError,
    ModelNotInstalled,
    ModelStore,
)

__all__ = [
    "CatalogueEntry",
    "DownloadCancelled",
    "DownloadPlan",
    "DownloadProgress",
    "ModelError",
    "ModelNotInstalled",
    "ModelStore",
    "catalogue",
    "suggest_model",
]
