"""Routes of this package (filled in by its implementation)."""

from fastapi import APIRouter

router = APIRouter()
