"""Manifests and tags (distribution-spec "Pulling manifests", "Pushing manifests", "Deleting")."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import errors
from ..db.database import insert_ignoring_conflicts, rowcount, upsert
from ..db.models import Manifest, ManifestReference, Repository, RepositoryBlob, Tag, utcnow
from ..oci import mediatypes as mt
from ..oci.digest import Digest, InvalidDigest, looks_like_digest
from ..oci.manifest import InvalidManifest, parse_manifest
from ..oci.reference import is_valid_tag
from ..storage import BlobStore
from .footprint import footprint
from .repositories import ensure_repository, repository_id_of


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class PushedManifest:
    digest: Digest
    subject: Digest | None
    tags: tuple[str, ...]


def parse_reference(reference: str, bad_tag: type[errors.RegistryError] = errors.ManifestUnknown) -> Digest | str:
    """A manifest reference is a digest or a tag; anything else is rejected here, at the boundary.

    A malformed tag cannot name anything: reading it is MANIFEST_UNKNOWN, pushing it MANIFEST_INVALID.
    """
    if looks_like_digest(reference):
        try:
            return Digest.parse(reference)
        except InvalidDigest as exc:
            raise errors.DigestInvalid(str(exc)) from None
    if not is_valid_tag(reference):
        raise bad_tag(f"invalid tag {reference[:140]!r}")
    return reference


ManifestFinder = Callable[[Digest | str], Awaitable["StoredManifest | None"]]


async def resolve_manifest(find: ManifestFinder, reference: Digest | str,
                           accept: Collection[str] = ()) -> StoredManifest:
    """The manifest a tag or digest names (looked up with `find`), as pushed.

    `accept` lists the media types the client named. A client that names image manifest types but no
    index type gets, for a tag naming an index, the index's linux/amd64 image (as distribution and
    Docker Hub answer clients that know no manifest lists). Otherwise the stored bytes are served
    whatever Accept says: the spec asks for no conversion and no refusal.
    """
    found = await find(reference)
    if found is None:
        raise errors.ManifestUnknown(detail={"reference": str(reference)})
    wanted = set(accept) & mt.MANIFESTS
    if isinstance(reference, str) and found.media_type in mt.INDEXES and wanted and not wanted & mt.INDEXES:
        child = _default_platform(found.content)
        image = child and await find(child)
        if image and image.media_type in wanted:
            return image
    return found


def manifest_query(repository: str, reference: Digest | str) -> Select[str, str, bytes]:
    """The digest, media type and bytes of the manifest a tag or digest names in `repository`."""
    query = select(Manifest.digest, Manifest.media_type, Manifest.content)
    if isinstance(reference, Digest):
        return query.join(Repository, Repository.id == Manifest.repository_id).where(
            Repository.name == repository, Manifest.digest == str(reference))
    return (query.join(Tag, Tag.manifest_id == Manifest.id)
            .join(Repository, Repository.id == Tag.repository_id)
            .where(Repository.name == repository, Tag.name == reference))


def _default_platform(index_content: bytes) -> Digest | None:
    index = parse_manifest(index_content, None)
    for child in index.manifests:
        if child.platform and (child.platform.os, child.platform.architecture) == ("linux", "amd64"):
            return child.digest
    return None


async def put_manifest(session: AsyncSession, store: BlobStore, repository: str, reference: Digest | str,
                       body: bytes, content_type: str | None, tags: Sequence[str] = ()) -> PushedManifest:
    """Store a manifest whose blobs and children the repository already has; point tags at it."""
    try:
        manifest = parse_manifest(body, content_type)
    except InvalidManifest as exc:
        raise errors.ManifestInvalid(str(exc)) from None
    algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
    digest = Digest.of(body, algorithm)
    if isinstance(reference, Digest) and digest != reference:
        raise errors.DigestInvalid("manifest digest does not match the reference",
                                   detail={"digest": str(reference)})
    all_tags = ([reference] if isinstance(reference, str) else []) + list(tags)
    for tag in all_tags:
        if not is_valid_tag(tag):
            raise errors.ManifestInvalid(f"invalid tag {tag[:140]!r}")

    repository_id = await ensure_repository(session, repository)
    await _require(session, repository_id, manifest.required_blobs(), RepositoryBlob)
    await _require(session, repository_id, manifest.required_manifests(), Manifest)
    total_size, platforms = await footprint(session, store, repository_id, manifest)
    await session.execute(update(Repository).where(Repository.id == repository_id)
                          .values(last_pushed_at=utcnow()))
    row = {"repository_id": repository_id, "digest": str(digest), "media_type": manifest.media_type,
           "content": body, "subject_digest": str(manifest.subject.digest) if manifest.subject else None,
           "artifact_type": manifest.effective_artifact_type(),
           "annotations": json.dumps(manifest.annotations) if manifest.annotations else None,
           "created_at": utcnow(), "total_size": total_size, "platforms": json.dumps(platforms)}
    manifest_id = None
    while manifest_id is None:
        await session.execute(insert_ignoring_conflicts(session, Manifest, [row], ["repository_id", "digest"]))
        # FOR SHARE keeps the garbage collector (FOR UPDATE SKIP LOCKED) off the row the tags will point
        # at. If it had locked the row first, the row is gone once it commits: insert it again.
        manifest_id = await session.scalar(select(Manifest.id).where(
            Manifest.repository_id == repository_id, Manifest.digest == str(digest)).with_for_update(read=True))
    references = [{"manifest_id": manifest_id, "digest": str(d), "is_manifest": False}
                  for d in manifest.required_blobs()]
    references += [{"manifest_id": manifest_id, "digest": str(d), "is_manifest": True}
                   for d in manifest.required_manifests()]
    if references:
        await session.execute(insert_ignoring_conflicts(
            session, ManifestReference, references, ["manifest_id", "digest"]))
    for tag in all_tags:
        await session.execute(upsert(
            session, Tag, {"repository_id": repository_id, "name": tag, "manifest_id": manifest_id,
                           "updated_at": utcnow()},
            keys=["repository_id", "name"], update=["manifest_id", "updated_at"]))
    subject = manifest.subject.digest if manifest.subject else None
    return PushedManifest(digest, subject, tuple(all_tags))


async def _require(session: AsyncSession, repository_id: int, digests: set[Digest],
                   model: type[RepositoryBlob] | type[Manifest]) -> None:
    if not digests:
        return
    wanted = {str(d) for d in digests}
    # FOR SHARE: the garbage collector takes these rows FOR UPDATE before it removes them (services/gc_sweep.py),
    # so either it waits for this push and then sees the references, or this push waits and finds them gone.
    found = set(await session.scalars(select(model.digest).where(
        model.repository_id == repository_id, model.digest.in_(wanted))
        .order_by(model.digest).with_for_update(read=True)))
    missing = sorted(wanted - found)
    if missing:
        raise errors.ManifestBlobUnknown(detail={"digest": missing[0], "missing": missing})


async def delete_manifest(session: AsyncSession, repository: str, reference: Digest | str) -> None:
    """By digest: the manifest and every tag naming it. By tag: just the tag."""
    repository_id = await repository_id_of(session, repository)
    if isinstance(reference, Digest):
        query = delete(Manifest).where(Manifest.repository_id == repository_id,
                                       Manifest.digest == str(reference))
    else:
        query = delete(Tag).where(Tag.repository_id == repository_id, Tag.name == reference)
    if repository_id is None or rowcount(await session.execute(query)) == 0:
        raise errors.ManifestUnknown(detail={"reference": str(reference)})


async def list_tags(session: AsyncSession, repository: str, limit: int, last: str | None) -> list[str]:
    """Tags in lexical order after `last`, at most `limit`. NAME_UNKNOWN for an unknown repository."""
    repository_id = await repository_id_of(session, repository)
    if repository_id is None:
        raise errors.NameUnknown(detail={"name": repository})
    query = select(Tag.name).where(Tag.repository_id == repository_id).order_by(Tag.name).limit(limit)
    if last:
        query = query.where(Tag.name > last)
    return list(await session.scalars(query))


async def list_referrers(session: AsyncSession, repository: str, subject: Digest,
                         artifact_type: str | None) -> list[dict[str, object]]:
    """Descriptors of the manifests in `repository` whose subject is `subject` (referrers API)."""
    query = (select(Manifest.media_type, Manifest.digest, func.length(Manifest.content),
                    Manifest.artifact_type, Manifest.annotations)
             .join(Repository, Repository.id == Manifest.repository_id)
             .where(Repository.name == repository, Manifest.subject_digest == str(subject))
             .order_by(Manifest.id))
    if artifact_type:
        query = query.where(Manifest.artifact_type == artifact_type)
    descriptors: list[dict[str, object]] = []
    for media_type, digest, size, kind, notes in await session.execute(query):
        descriptor: dict[str, object] = {"mediaType": media_type, "digest": digest, "size": size}
        if kind:
            descriptor["artifactType"] = kind
        if notes:
            descriptor["annotations"] = json.loads(notes)
        descriptors.append(descriptor)
    return descriptors
