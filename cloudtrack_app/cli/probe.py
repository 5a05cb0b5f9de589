"""`probe …`: what the extractor reads on a page (a live URL or a saved file)."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cloudtrack_app.tracking.extract import Extraction

JSON_FIELDS = (
    "url",
    "title",
    "price",
    "currency",
    "availability",
    "image",
    "sku",
    "confidence",
    "source",
    "candidates",
    "notes",
    "error",
)
# Candidates the summary shows (the JSON has them all).
SUMMARY_CANDIDATES = 3


class ProbeError(Exception):
    """A page that could not be read; the message is shown to the user as is."""


@dataclass
class Probed:
    url: str
    extraction: Extraction | None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        found = self.extraction
        return {
            "url": self.url,
            "title": found.title if found else None,
            "price": str(found.price) if found and found.price is not None else None,
            "was_price": str(found.was_price) if found and found.was_price is not None else None,
            "currency": found.currency if found else None,
            "availability": found.availability if found else "unknown",
            "image": found.image if found else None,
            "sku": found.sku if found else None,
            "confidence": found.confidence if found else 0.0,
            "source": found.source if found else None,
            "candidates": [
                {
                    "price": str(c.price),
                    "currency": c.currency,
                    "source": c.source,
                    "selector": c.selector,
                    "snippet": c.snippet,
                }
                for c in (found.candidates if found else [])
            ],
            # The summary's "Note:" lines: why the extractor chose what it chose.
            "notes": list(found.diagnostics) if found else [],
            "error": self.error,
        }


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def read_file(path: Path) -> bytes:
    from cloudtrack_app.tracking.extract.page import looks_like_html

    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ProbeError(f"No such file: {path}") from error
    except OSError as error:
        raise ProbeError(f"Cannot read {path}: {error.strerror or error}") from error
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ProbeError(f"{path} is not a readable gzip file: {error}") from error
    if not looks_like_html(data):
        raise ProbeError(f"{path} is not an HTML page.")
    return data


async def probe_target(target: str, base_url: str | None) -> Probed:
    """Fetch or read one page and extract it; raises ProbeError when it cannot be read."""
    import asyncio

    from cloudtrack_app.tracking.extract import extract

    if is_url(target):
        from cloudtrack_app.tracking.fetch import (
            PRIVATE_NETWORK_HINT,
            FetchError,
            FetchErrorKind,
            fetch_page,
        )

        try:
            fetched = await fetch_page(target)
        except FetchError as error:
            hint = f" {PRIVATE_NETWORK_HINT}" if error.kind == FetchErrorKind.BLOCKED_ADDRESS else ""
            raise ProbeError(error.message + hint) from error
        if fetched.not_modified or not fetched.body:
            raise ProbeError("The shop sent no page.")
        return Probed(
            fetched.url,
            await asyncio.to_thread(extract, fetched.body, fetched.url, fetched.charset, candidates=True),
        )
    path = Path(target)
    data = read_file(path)
    url = base_url or path.resolve().as_uri()
    return Probed(url, await asyncio.to_thread(extract, data, url, candidates=True))


def summary(probed: Probed) -> str:
    found = probed.extraction
    assert found is not None
    price = (
        f"{found.price} {found.currency or '(currency unknown)'}" if found.price is not None else "not found"
    )
    lines = [
        f"URL:          {probed.url}",
        f"Title:        {found.title or '-'}",
        f"Price:        {price}",
        *([f"Was price:    {found.was_price} (claimed by the shop)"] if found.was_price is not None else []),
        f"Availability: {found.availability}"
        + (f" ({found.availability_raw})" if found.availability_raw else ""),
        f"Source:       {found.source or '-'} (confidence {found.confidence:.2f})",
        f"Image:        {found.image or '-'}",
        f"SKU/GTIN:     {found.sku or '-'} / {found.gtin or '-'}",
        f"Brand:        {found.brand or '-'}",
        f"Canonical:    {found.canonical_url or '-'}",
    ]
    lines.extend(
        f"Candidate:    {c.price} {c.currency or '-'} ({c.source}, {c.selector or 'no selector'}): {c.snippet}"
        for c in found.candidates[:SUMMARY_CANDIDATES]
    )
    lines.extend(f"Note:         {note}" for note in found.diagnostics)
    return "\n".join(lines)


async def _close_fetch_clients() -> None:
    # Saved files are read without loading the fetchers; only a fetched URL leaves clients open.
    fetch = sys.modules.get("cloudtrack_app.tracking.fetch")
    if fetch is not None:
        await fetch.close_clients()


async def _probe_one(target: str, base_url: str | None) -> Probed:
    try:
        return await probe_target(target, base_url)
    finally:
        await _close_fetch_clients()


def _manifest_entry_target(entry: dict[str, Any], folder: Path) -> tuple[str, str | None]:
    if entry.get("target"):
        return str(entry["target"]), entry.get("url")
    if entry.get("file"):
        path = Path(str(entry["file"]))
        if not path.is_absolute() and not path.exists() and (folder / path).exists():
            path = folder / path
        return str(path), entry.get("url")
    raise ProbeError('Each line needs "file" or "target".')


async def _probe_manifest(lines: list[str], folder: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry_id: Any = None
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ProbeError("Each line must be a JSON object.")
                entry_id = entry.get("id")
                target, base_url = _manifest_entry_target(entry, folder)
                probed = await probe_target(target, base_url)
                results.append({"id": entry_id, **probed.as_json()})
            except json.JSONDecodeError as error:
                results.append(_failed(entry_id, None, f"Line {number} is not JSON: {error.msg}"))
            except ProbeError as error:
                results.append(_failed(entry_id, None, str(error)))
            except Exception as error:  # one bad page must not stop the batch
                results.append(_failed(entry_id, None, f"{type(error).__name__}: {error}"))
    finally:
        await _close_fetch_clients()
    return results


def _failed(entry_id: Any, url: str | None, message: str) -> dict[str, Any]:
    return {"id": entry_id, **Probed(url or "", None, message).as_json()}


@click.command("probe")
@click.argument("target", required=False)
@click.option(
    "--url", "base_url", default=None, help="Original address of a saved page (resolves its links)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a summary.")
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='JSON lines {"id", "file" | "target", "url"}: one JSON result per line, in order. '
    "Relative files are looked up from the current folder, then from the manifest's folder.",
)
def probe(target: str | None, base_url: str | None, as_json: bool, manifest: Path | None) -> None:
    """Show what CloudTrack reads on TARGET: a product URL or a saved .html / .html.gz file.

    Exit status 0 when the page was read (even without a price), 2 when it could not be.
    """
    import asyncio

    if manifest is not None:
        try:
            lines = manifest.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            click.echo(f"Cannot read manifest {manifest}: {error.strerror or error}", err=True)
            sys.exit(2)
        for result in asyncio.run(_probe_manifest(lines, manifest.parent)):
            click.echo(json.dumps(result, ensure_ascii=False))
        return
    if not target:
        raise click.UsageError("Give a TARGET (URL or file) or --manifest FILE.")
    try:
        probed = asyncio.run(_probe_one(target, base_url))
    except ProbeError as error:
        if as_json:
            click.echo(json.dumps(Probed(base_url or target, None, str(error)).as_json(), ensure_ascii=False))
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    click.echo(json.dumps(probed.as_json(), ensure_ascii=False) if as_json else summary(probed))
