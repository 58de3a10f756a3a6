"""Media bytes: one interface (`store.MediaStore`), a local and an S3-compatible store.

`build_media_store(settings)` picks one: files under `<data_dir>/media/`
(`LocalMediaStore`, the default) or, with `media_backend = "s3"`, objects in
`s3_bucket` (`S3MediaStore`). Both pass the same contract tests
(tests/test_media_store.py). boto3 is imported only when S3 is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backchannel.media.store import MediaStore

if TYPE_CHECKING:
    from backchannel.config import Settings


def build_media_store(settings: Settings) -> MediaStore:
    """The media store `settings` ask for. Builds a client but connects to nothing."""
    if settings.media_backend == "s3":
        from backchannel.media.s3 import S3MediaStore

        if not settings.s3_bucket:
            raise ValueError("media_backend is s3, so s3_bucket must name the bucket")
        secret = settings.s3_secret_access_key
        return S3MediaStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=None if secret is None else secret.get_secret_value(),
            prefix=settings.s3_prefix,
        )
    from backchannel.media.local import LocalMediaStore

    return LocalMediaStore(settings.data_dir / "media")
