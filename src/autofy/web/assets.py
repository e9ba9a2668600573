"""Static files from the package, under URLs that change when the file does (cached for a year)."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
_A_YEAR = 365 * 24 * 3600


@cache
def static_url(path: str) -> str:
    """`/static/<path>?v=<content hash>`: a new release changes the URL, so caches never go stale."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
    return f"/static/{path}?v={digest}"


class StaticAssets(StaticFiles):
    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        # Pages link to these files through `static_url`, whose version changes with the content.
        response.headers["Cache-Control"] = f"public, max-age={_A_YEAR}, immutable"
        return response
