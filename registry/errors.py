"""The registry's one error hierarchy: the distribution spec's error codes as exceptions.

Handlers and services raise these; `error_middleware` in app.py renders them as the spec's JSON body
(`{"errors": [{"code", "message", "detail"}]}`). See distribution-spec "Error Codes".
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    code = "UNKNOWN"
    status = 500
    message = "unknown error"

    def __init__(self, message: str | None = None, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


class BlobUnknown(RegistryError):
    code, status, message = "BLOB_UNKNOWN", 404, "blob unknown to registry"


class BlobUploadInvalid(RegistryError):
    code, status, message = "BLOB_UPLOAD_INVALID", 400, "blob upload invalid"


class RangeNotSatisfiable(BlobUploadInvalid):
    """An upload chunk that does not start where the upload stands (416, spec "Chunked Upload")."""
    status, message = 416, "chunk does not continue the upload"


class BlobUploadUnknown(RegistryError):
    code, status, message = "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"


class DigestInvalid(RegistryError):
    code, status, message = "DIGEST_INVALID", 400, "provided digest did not match uploaded content"


class ManifestBlobUnknown(RegistryError):
    code, status, message = "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"


class ManifestInvalid(RegistryError):
    code, status, message = "MANIFEST_INVALID", 400, "manifest invalid"


class ManifestTooLarge(ManifestInvalid):
    status, message = 413, "manifest is larger than 4 MiB"


class ManifestUnknown(RegistryError):
    code, status, message = "MANIFEST_UNKNOWN", 404, "manifest unknown to registry"


class NameInvalid(RegistryError):
    code, status, message = "NAME_INVALID", 400, "invalid repository name"


class NameUnknown(RegistryError):
    code, status, message = "NAME_UNKNOWN", 404, "repository name not known to registry"


class SizeInvalid(RegistryError):
    code, status, message = "SIZE_INVALID", 400, "provided length did not match content length"


class Unauthorized(RegistryError):
    code, status, message = "UNAUTHORIZED", 401, "authentication required"


class Denied(RegistryError):
    code, status, message = "DENIED", 403, "requested access to the resource is denied"


class Unsupported(RegistryError):
    code, status, message = "UNSUPPORTED", 405, "the operation is unsupported"


class TooManyRequests(RegistryError):
    code, status, message = "TOOMANYREQUESTS", 429, "too many requests"


class Unavailable(RegistryError):
    """Busy for now (every database connection in use for longer than the pool's timeout): distribution's
    UNAVAILABLE, with a Retry-After that clients such as docker honour."""
    code, status, message = "UNAVAILABLE", 503, "the registry is busy; try again in a moment"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": "1"})


class InvalidParameter(Unsupported):
    """A query or form parameter the request cannot carry (the spec has no code of its own for it)."""
    status, message = 400, "invalid request parameter"


class PaginationInvalid(InvalidParameter):
    """A bad `n` or `last` (distribution answers PAGINATION_NUMBER_INVALID)."""
    message = "invalid pagination parameters"


class ApiError(RegistryError):
    """An error of the JSON API under /api/v1: the same body, with HTTP-flavoured codes of its own."""
    code, status, message = "BAD_REQUEST", 400, "bad request"


class Forbidden(ApiError):
    code, status, message = "FORBIDDEN", 403, "you may not do this"


class NotFound(ApiError):
    code, status, message = "NOT_FOUND", 404, "not found"


class MethodNotAllowed(ApiError):
    code, status, message = "METHOD_NOT_ALLOWED", 405, "method not allowed"


class Conflict(ApiError):
    code, status, message = "CONFLICT", 409, "conflicts with what exists"


class PayloadTooLarge(ApiError):
    code, status, message = "PAYLOAD_TOO_LARGE", 413, "the request body is too large"


class UnsupportedMediaType(ApiError):
    code, status, message = "UNSUPPORTED_MEDIA_TYPE", 415, "send the request body as application/json"
