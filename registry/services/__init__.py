"""Domain logic: repositories, blobs, uploads, manifests and tags. Never sees a web.Request."""
