"""Image archives: the tar `docker save` writes and `docker load` reads, and OCI layouts in a tar (oci-archive).

Writing streams blobs from the store into a tar whose headers are built here, so no layer is ever held in
memory. The Docker form is Docker 25's: an OCI layout (oci-layout, index.json, blobs/<alg>/<hex>) plus
manifest.json and repositories pointing into blobs/, which Docker 20.10 loads too (it reads only manifest.json,
and detects compressed layer files itself, so the store's gzip layers go in as they are).

Reading stages every member of the archive, hashed on the way, as files in the store's ingest/ directory
(a crashed load leaves only what garbage collection sweeps), checks every path, link, size and digest, and
only then copies the blobs into the store through its verifying writer: a hostile or broken archive adds
nothing. Both Docker forms are read (20.10's <id>/layer.tar, uncompressed, with symlinks for repeated layers;
25's blobs/), and plain OCI archives.
"""

from .common import ArchiveError, familiar_name
from .reader import LoadedImage, StagedArchive
from .writer import SavedImage, write_archive

__all__ = ["ArchiveError", "LoadedImage", "SavedImage", "StagedArchive", "familiar_name", "write_archive"]
