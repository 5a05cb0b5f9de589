"""`probe` and `bench extraction` from the shell: the contract scripts rely on."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudtrack_app.cli import main
from cloudtrack_app.settings import PROJECT_ROOT
from cloudtrack_app.tracking.extract import CONFIDENT

JSON_KEYS = {
    "url",
    "title",
    "price",
    "was_price",
    "currency",
    "availability",
    "image",
    "sku",
    "confidence",
    "source",
    "candidates",
    "notes",
    "error",
}

PRODUCT_PAGE = """<!doctype html><html lang="de"><head><title>Wasserkocher</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
 "name": "Wasserkocher 42", "sku": "WK-42", "image": "/img/wk42.jpg",
 "offers": {"@type": "Offer", "price": "1299.95", "priceCurrency": "EUR",
            "availability": "https://schema.org/OutOfStock"}}</script></head>
<body><h1>Wasserkocher 42</h1><span class="price">1.299,95 €</span></body></html>"""


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    path = tmp_path / "kettle.html"
    path.write_text(PRODUCT_PAGE, encoding="utf-8")
    return path


@pytest.fixture
def gz_page_file(tmp_path: Path) -> Path:
    path = tmp_path / "kettle.html.gz"
    path.write_bytes(gzip.compress(PRODUCT_PAGE.encode("utf-8")))
    return path


def probe(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["probe", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_carries_the_notes_the_summary_prints(tmp_path: Path) -> None:
    page = tmp_path / "sale.html"
    page.write_text(
        '<html><head><title>Kettle</title><script type="application/ld+json">{"@context":"https://schema.org",'
        '"@type":"Product","name":"Kettle","offers":{"@type":"Offer","price":"49.00","priceCurrency":"EUR"}}'
        '</script></head><body><h1>Kettle</h1><p><s>49,00 €</s> <span class="price">39,00 €</span></p>'
        "</body></html>",
        encoding="utf-8",
    )
    code, out, _ = probe(str(page))
    notes = [line.removeprefix("Note:").strip() for line in out.splitlines() if line.startswith("Note:")]
    assert code == 0 and notes
    code, out, _ = probe(str(page), "--json")
    assert code == 0 and json.loads(out)["notes"] == notes


def test_the_was_price_a_page_claims_is_shown(tmp_path: Path) -> None:
    page = tmp_path / "sale.html"
    page.write_text(
        "<html><head><title>Kettle</title></head><body><h1>Kettle</h1>"
        '<p><s class="price">49,00 €</s> <span class="price">39,00 €</span></p></body></html>',
        encoding="utf-8",
    )
    code, out, _ = probe(str(page))
    assert code == 0 and "Was price:    49.00 (claimed by the shop)" in out.splitlines()
    code, out, _ = probe(str(page), "--json")
    assert code == 0 and (json.loads(out)["price"], json.loads(out)["was_price"]) == ("39.00", "49.00")


def test_file_target_prints_a_readable_summary(page_file: Path) -> None:
    code, out, _ = probe(str(page_file))
    assert code == 0
    assert "Wasserkocher 42" in out
    assert "1299.95 EUR" in out
    assert "out_of_stock" in out


def test_gzipped_file_as_json_with_original_address(gz_page_file: Path) -> None:
    code, out, _ = probe(str(gz_page_file), "--url", "https://shop.example.de/p/wk42", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == JSON_KEYS
    assert data["url"] == "https://shop.example.de/p/wk42"
    assert (data["price"], data["currency"], data["availability"]) == ("1299.95", "EUR", "out_of_stock")
    assert data["image"] == "https://shop.example.de/img/wk42.jpg"
    assert (data["sku"], data["source"], data["error"]) == ("WK-42", "json-ld", None)
    assert 0 < data["confidence"] <= 1


def test_json_lists_the_candidates_best_first_and_the_summary_the_top_three(tmp_path: Path) -> None:
    page = tmp_path / "deals.html"
    page.write_text(
        "<html><body><div class='product'><h1>Kettle</h1><span class='price'>39,00 €</span>"
        "<span class='price'>35,00 €</span><span class='price'>33,00 €</span><span class='price'>31,00 €</span>"
        "</div></body></html>",
        encoding="utf-8",
    )
    code, out, _ = probe(str(page), "--url", "https://shop.example.de/kettle", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["candidates"]) == 4
    assert data["candidates"][0] == {
        "price": data["price"],
        "currency": "EUR",
        "source": "visible",
        "selector": data["candidates"][0]["selector"],
        "snippet": data["candidates"][0]["snippet"],
    }
    assert {c["price"] for c in data["candidates"]} == {"39.00", "35.00", "33.00", "31.00"}
    assert all(c["selector"] and c["snippet"] for c in data["candidates"])

    code, out, _ = probe(str(page), "--url", "https://shop.example.de/kettle")
    shown = [line for line in out.splitlines() if line.startswith("Candidate:")]
    assert code == 0 and len(shown) == 3
    assert shown[0].split()[1:3] == [data["price"], "EUR"]


def test_a_page_read_with_confidence_still_lists_its_candidates(page_file: Path) -> None:
    code, out, _ = probe(str(page_file), "--url", "https://shop.example.de/p/42", "--json")
    data = json.loads(out)
    assert code == 0 and data["confidence"] >= CONFIDENT
    assert data["candidates"] and data["candidates"][0]["price"] == data["price"] == "1299.95"


def test_page_without_price_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "about.html"
    path.write_text("<html><head><title>About us</title></head><body><h1>About</h1></body></html>")
    code, out, _ = probe(str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["price"], data["availability"], data["error"]) == (None, "unknown", None)


def test_missing_file_exits_2_with_a_message(tmp_path: Path) -> None:
    code, out, err = probe(str(tmp_path / "nope.html"), "--json")
    assert code == 2
    assert "No such file" in err
    assert json.loads(out)["error"]


def test_file_that_is_not_html_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "picture.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    code, _, err = probe(str(path))
    assert code == 2
    assert "not an HTML page" in err


def test_manifest_answers_every_line_in_order(tmp_path: Path, page_file: Path, gz_page_file: Path) -> None:
    manifest = tmp_path / "pages.jsonl"
    lines = [
        {"id": "a", "file": str(gz_page_file), "url": "https://shop.example.de/p/1"},
        "this is not json",
        {"id": "c", "file": str(tmp_path / "missing.html")},
        {"id": "d"},
        {"id": "e", "file": page_file.name},
    ]
    manifest.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    code, out, _ = probe("--manifest", str(manifest))
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in results] == ["a", None, "c", "d", "e"]
    assert all(set(r) == JSON_KEYS | {"id"} for r in results)
    assert (results[0]["price"], results[0]["url"], results[0]["error"]) == (
        "1299.95",
        "https://shop.example.de/p/1",
        None,
    )
    assert "not JSON" in results[1]["error"]
    assert "No such file" in results[2]["error"]
    assert '"file" or "target"' in results[3]["error"]
    assert results[4]["price"] == "1299.95"


def test_missing_manifest_exits_2(tmp_path: Path) -> None:
    code, _, err = probe("--manifest", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert "Cannot read manifest" in err


# --- a live URL, through the real fetcher, from a real local server --------------------


class ProductHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PRODUCT_PAGE.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ProductHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/p/wk42"
    server.shutdown()
    server.server_close()


def run_cli(*args: str, allow_private: bool) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLOUDTRACK_ALLOW_PRIVATE_URLS", "ALLOW_PRIVATE_URLS")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if allow_private:
        env["CLOUDTRACK_ALLOW_PRIVATE_URLS"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "cloudtrack_app.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_url_target_is_fetched_and_read(shop_url: str) -> None:
    done = run_cli("probe", shop_url, "--json", allow_private=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["url"], data["price"], data["currency"]) == (shop_url, "1299.95", "EUR")
    assert data["image"] == shop_url.rsplit("/p/", 1)[0] + "/img/wk42.jpg"


def test_loopback_url_is_refused_unless_allowed(shop_url: str) -> None:
    done = run_cli("probe", shop_url, allow_private=False)
    assert done.returncode == 2
    assert "private" in done.stderr.lower()
    assert done.stdout == ""


# --- bench extraction ---------------------------------------------------------------------


def test_bench_extraction_scores_a_corpus_folder(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "one.html.gz").write_bytes(gzip.compress(PRODUCT_PAGE.encode("utf-8")))
    (tmp_path / "pages" / "two.html").write_text(
        "<html><body><h1>Mug</h1><span class='price'>$ 9.99</span></body></html>", encoding="utf-8"
    )
    truth = [
        {
            "id": "one",
            "url": "https://shop.example.de/p/1",
            "price": "1299.95",
            "currency": "EUR",
            "availability": "out_of_stock",
        },
        {
            "id": "two",
            "url": "https://shop.example.ca/p/2",
            "price": "9.99",
            "price_alternatives": None,
            "currency": "USD",
            "currency_alternatives": ["CAD"],
            "availability": "in_stock",
        },
    ]
    (tmp_path / "truth.jsonl").write_text("\n".join(json.dumps(t) for t in truth) + "\n")
    result = CliRunner().invoke(
        main, ["bench", "extraction", "--corpus", str(tmp_path), "--repeat", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["pages"] == 2
    assert figures["fields"]["price"] == {
        "tp": 2,
        "fp": 0,
        "fn": 0,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    assert figures["fields"]["currency"]["tp"] == 2
    # "unknown" stock on the second page counts as the labels' default, in stock …
    assert figures["fields"]["availability"]["tp"] == 2
    assert figures["extract_ms"]["mean"] >= 0 and figures["lxml_parse_ms"]["mean"] >= 0
    # … unless scored strictly.
    strict = CliRunner().invoke(
        main,
        [
            "bench",
            "extraction",
            "--corpus",
            str(tmp_path),
            "--repeat",
            "1",
            "--json",
            "--strict-availability",
        ],
    )
    assert json.loads(strict.stdout)["fields"]["availability"]["fn"] == 1


def test_bench_extraction_scores_several_corpora_and_all_of_them_together(tmp_path: Path) -> None:
    def corpus(name: str, pages: dict[str, str], truths: list[dict[str, object]]) -> Path:
        folder = tmp_path / name
        (folder / "pages").mkdir(parents=True)
        for page_id, html in pages.items():
            (folder / "pages" / f"{page_id}.html").write_text(html, encoding="utf-8")
        (folder / "truth.jsonl").write_text("\n".join(json.dumps(t) for t in truths) + "\n")
        return folder

    sold_out = (
        "<html><body><h1>Mug</h1><span class='price'>$ 9.99</span><p class='stock'>Sold out</p></body></html>"
    )
    first = corpus(
        "first",
        {"a": sold_out},
        [
            {
                "id": "a",
                "url": "https://shop.example.com/a",
                "price": "9.99",
                "currency": "USD",
                "availability": "in_stock",
            }
        ],
    )
    second = corpus(
        "second",
        {"b": sold_out},
        # Nothing reliable says the stock of this one: it is not scored for it.
        [
            {
                "id": "b",
                "url": "https://shop.example.com/b",
                "price": "9.99",
                "currency": "USD",
                "availability": None,
            }
        ],
    )
    result = CliRunner().invoke(
        main,
        ["bench", "extraction", "--corpus", str(first), "--corpus", str(second), "--repeat", "1", "--json"],
    )
    assert result.exit_code == 0, result.output
    reports = {r["name"]: r for r in json.loads(result.stdout)["corpora"]}
    assert list(reports) == ["first", "second", "together"]
    assert reports["first"]["in_stock_read_out_of_stock"] == 1
    assert reports["first"]["fields"]["availability"]["fp"] == 1
    assert reports["second"]["in_stock_read_out_of_stock"] == 0
    assert reports["second"]["fields"]["availability"] == {
        "tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0
    }  # fmt: skip
    assert reports["together"]["pages"] == 2
    assert reports["together"]["fields"]["price"]["tp"] == 2
    assert reports["together"]["in_stock_read_out_of_stock"] == 1
    text = CliRunner().invoke(
        main, ["bench", "extraction", "--corpus", str(first), "--corpus", str(second), "--repeat", "1"]
    )
    assert "in-stock pages read as out of stock: 1" in text.stdout
    assert "together: 2 pages" in text.stdout


def test_reading_a_saved_page_loads_no_http_client(page_file: Path) -> None:
    # What keeps `probe FILE` well under half a second: the fetchers and httpx stay unloaded.
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cloudtrack_app.cli import main\n"
        f"result = CliRunner().invoke(main, ['probe', {str(page_file)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m == 'httpx' or m.startswith('cloudtrack_app.tracking.fetch')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
