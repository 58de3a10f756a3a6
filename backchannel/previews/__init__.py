"""Link previews: the first link of a message, fetched without SSRF, read for its metadata.

`first_previewable_link(text)` picks the link; `PreviewFetcher.preview(url)` fetches and
reads it (see `backchannel.previews.fetch` for the protections) and `fetch_image` its image.
"""

from backchannel.previews.fetch import PreviewFetcher, address_refusal
from backchannel.previews.parse import Preview, first_previewable_link, normalize_url

__all__ = [
    "Preview",
    "PreviewFetcher",
    "address_refusal",
    "first_previewable_link",
    "normalize_url",
]
