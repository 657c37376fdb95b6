"""The MLMD store's resources under ``/api/v1``. (Being written: see issue 5.)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["store"])
