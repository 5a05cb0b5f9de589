"""A readable page of the API's OpenAPI document, made on the server.

FastAPI's own docs pages load their scripts from a CDN, which the Content-Security-Policy
forbids and a server without internet cannot reach; this page is plain HTML with no script.
"""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h2{margin-top:2rem;font-size:1.1rem}code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}"
    ".m{display:inline-block;min-width:4.5rem;font-weight:600}table{border-collapse:collapse}"
    "td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #eee;vertical-align:top}"
)


def _schema_text(schema: dict[str, Any], document: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_schema_text(option, document) for option in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f'"{value}"' for value in schema["enum"])
    return str(schema.get("type", "any"))


def _body_table(ref: str, document: dict[str, Any]) -> str:
    schema = document.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    required = set(schema.get("required", ()))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code>{' (required)' if name in required else ''}</td>"
        f"<td>{escape(_schema_text(field, document))}</td>"
        f"<td>{escape(str(field.get('default', '')) if 'default' in field else '')}</td>"
        f"<td>{escape(field.get('description', ''))}</td></tr>"
        for name, field in schema.get("properties", {}).items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>default</th><th></th></tr>{rows}</table>"


def docs_page(document: dict[str, Any], prefix: str) -> str:
    info = document.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))}</h1><p>{escape(info.get('description', ''))}</p>",
        f"<p>Machine-readable: <a href='{prefix}/openapi.json'><code>{prefix}/openapi.json</code></a></p>",
    ]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            parts.append(
                f"<h2><span class='m'>{escape(method.upper())}</span><code>{escape(prefix + path)}</code></h2>"
                f"<p>{escape(operation.get('summary', ''))}</p>"
            )
            parameters = [p for p in operation.get("parameters", ()) if p.get("in") == "query"]
            for parameter in parameters:
                parts.append(
                    f"<p>Query <code>{escape(parameter['name'])}</code>: "
                    f"{escape(_schema_text(parameter.get('schema', {}), document))}</p>"
                )
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "$ref" in body.get("schema", {}):
                parts.append(_body_table(body["schema"]["$ref"], document))
    parts.append("</body></html>")
    return "".join(parts)
