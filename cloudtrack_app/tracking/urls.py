"""Canonical product URLs: one `Product` row per page, however the link was shared.

Tracking parameters are removed, what selects the product or variant is kept; the query is
sorted and percent-encoding normalised by w3lib, the host lower-cased, the fragment and
default ports dropped.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that identify a campaign, a click or an affiliate, never a product.
TRACKING_PARAMS = frozenset(
    {
        "refsrc",
        "referrer",
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "vero_id",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ncid",
        "srsltid",
        "spm",
        "scm",
        "trk",
        "trkcampaign",
        "affiliate",
        "aff_id",
        "affid",
        "clickid",
        "irclickid",
        "irgwc",
        "ranmid",
        "raneaid",
        "ransiteid",
        "sc_cid",
        "epik",
        "wt_mc",
        "wt.mc_id",
        "ito",
        "icid",
        "intcmp",
        "cm_mmc",
        "cm_ven",
        "cm_cat",
        "cm_pla",
        "cm_ite",
        "zanpid",
        "awc",
        "sv_campaign_id",
        "pk_campaign",
        "pk_kwd",
        "pk_source",
        "pk_medium",
        "mtm_campaign",
        "mtm_source",
        "mtm_medium",
        "mtm_keyword",
        "piwik_campaign",
        "piwik_kwd",
    }
)
TRACKING_PREFIXES = ("utm_", "hmb_", "ga_", "mtm_", "pk_")
# Amazon's click and affiliate parameters. Other shops may use the same names to select a
# variant (`tag=red`) or a listing, so these are removed on Amazon's own hosts only.
AMAZON_TRACKING_PARAMS = frozenset(
    {
        "ref",
        "ref_",
        "tag",
        "linkcode",
        "linkid",
        "ascsubtag",
        "camp",
        "creative",
        "creativeasin",
        "qid",
        "sr",
        "sprefix",
        "crid",
        "content-id",
    }
)
AMAZON_TRACKING_PREFIXES = ("pd_rd_", "pf_rd_")
# amazon.de, www.amazon.co.uk, smile.amazon.com.au: Amazon under any country's TLD.
_AMAZON_HOST = re.compile(r"(?:^|\.)amazon\.(?:(?:co|com)\.)?[a-z]+$")
# Amazon-style `/ref=sr_1_3` path segments only say where the click came from.
_REF_SEGMENT = re.compile(r"/ref=[^/]*$")
# "mailto:…", "javascript:…" (but not "shop.example:8080/…", a host and port).
_OTHER_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")


class InvalidURL(ValueError):
    """A URL CloudTrack cannot track; the message can be shown as it is."""


def is_tracking_param(name: str, host: str) -> bool:
    """True for a query parameter that on `host` only says where a click came from."""
    name = name.lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return True
    return _AMAZON_HOST.search(host) is not None and (
        name in AMAZON_TRACKING_PARAMS or name.startswith(AMAZON_TRACKING_PREFIXES)
    )


def canonical_url(url: str) -> str:
    """The canonical form of a product page address (raises `InvalidURL`)."""
    url = (url or "").strip()
    if not url:
        raise InvalidURL("Paste the address of a product page.")
    if "://" not in url:
        if _OTHER_SCHEME.match(url):
            raise InvalidURL("Only http:// and https:// addresses can be tracked.")
        url = "https://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidURL("That address is not a valid web address.") from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL("Only http:// and https:// addresses can be tracked.")
    host = (parts.hostname or "").rstrip(".")
    if not host or " " in host:
        raise InvalidURL("That address has no valid host name.")
    if parts.username or parts.password:
        raise InvalidURL("Addresses with a user name or password cannot be tracked.")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InvalidURL("That address has no valid host name.") from error
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _REF_SEGMENT.sub("", parts.path) or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k, host)]
    )
    canonical = canonicalize_url(urlunsplit((scheme, netloc, path, query, "")), keep_fragments=False)
    if len(canonical) > MAX_URL_LENGTH:
        raise InvalidURL(f"That address is too long (at most {MAX_URL_LENGTH} characters).")
    return canonical


def shop_domain(url: str) -> str:
    """The host (and non-default port) a product is fetched from: the unit of politeness."""
    return urlsplit(url).netloc.lower().removeprefix("www.")
