"""HTTP endpoints that serve product images from CloudTrack's own address (see `tracking/images.py`).

`routes` is a list of Starlette routes for the app to mount. The image is fetched on the first
request (asynchronously, time- and size-limited) and cached; an unknown, unsigned or failed
image answers 404, and the page shows its placeholder instead.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product
from cloudtrack_app.tracking.images import (
    PREVIEW_IMAGE_PREFIX,
    PRODUCT_IMAGE_PREFIX,
    CachedImage,
    load_image,
    preview_cache_key,
    preview_signature_valid,
    product_cache_key,
    product_cache_prefix,
    product_signature_valid,
    storable_image_url,
)

log = logging.getLogger(__name__)

IMAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Opened on its own, the image is a document with no rights at all.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}
_NOT_FOUND_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _not_found() -> Response:
    return Response("No image", status_code=404, media_type="text/plain", headers=_NOT_FOUND_HEADERS)


def _image_response(image: CachedImage | None) -> Response:
    if image is None:
        return _not_found()
    return Response(image.data, media_type=image.media_type, headers=IMAGE_HEADERS)


def _image_url_of(product_id: int) -> str | None:
    with session_scope() as db:
        product = db.get(Product, product_id)
        return product.image_url if product is not None else None


async def product_image(request: Request) -> Response:
    """`/img/product/<id>/<signature>`: the current image of a saved product."""
    product_id: int = request.path_params["product_id"]
    if not product_signature_valid(product_id, request.path_params["signature"]):
        return _not_found()
    image_url = storable_image_url(await asyncio.to_thread(_image_url_of, product_id))
    if image_url is None:
        return _not_found()
    try:
        image = await load_image(
            product_cache_key(product_id, image_url),
            image_url,
            replaces_prefix=product_cache_prefix(product_id),
        )
    except OSError:
        log.exception("The image cache could not be used")
        return _not_found()
    return _image_response(image)


async def preview_image(request: Request) -> Response:
    """`/img/preview/<signature>?u=<image URL>`: the image of a page being added."""
    image_url = storable_image_url(request.query_params.get("u", ""))
    if image_url is None or not preview_signature_valid(image_url, request.path_params["signature"]):
        return _not_found()
    try:
        image = await load_image(preview_cache_key(image_url), image_url)
    except OSError:
        log.exception("The image cache could not be used")
        return _not_found()
    return _image_response(image)


routes = [
    Route(PRODUCT_IMAGE_PREFIX + "/{product_id:int}/{signature}", product_image, methods=["GET"]),
    Route(PREVIEW_IMAGE_PREFIX + "/{signature}", preview_image, methods=["GET"]),
]
