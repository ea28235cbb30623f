"""Every web.AppKey of the application, in one place."""

from __future__ import annotations

from aiohttp import web

from .api.auth import Gatekeeper
from .db import Database
from .services.cache import ReadCache
from .services.health import Readiness
from .services.pulls import PullService
from .services.uploads import UploadService
from .settings import Settings
from .storage import BlobStore

settings = web.AppKey("settings", Settings)
database = web.AppKey("database", Database)
blob_store = web.AppKey("blob_store", BlobStore)
uploads = web.AppKey("uploads", UploadService)
pulls = web.AppKey("pulls", PullService)
read_cache = web.AppKey("read_cache", ReadCache)
readiness = web.AppKey("readiness", Readiness)
gatekeeper = web.AppKey("gatekeeper", Gatekeeper)  # only with --auth token
