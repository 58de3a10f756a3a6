"""The business inbox's reports routes (issue 7; being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["business"])
