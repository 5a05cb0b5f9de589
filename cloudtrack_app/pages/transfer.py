"""`/import`: import links (pasted or from a file), see what became of each, export all watches."""

from __future__ import annotations

import reflex as rx

from cloudtrack_app.components.layout import form_error, protected
from cloudtrack_app.states.transfer import ImportRow, ImportState

UPLOAD_ID = "import-file"
OUTCOME_LABELS = (
    ("added", "Added", "green"),
    ("watched", "Already watched", "blue"),
    ("refused", "Refused", "red"),
    ("pending", "Waiting", "gray"),
)


def outcome_badge(outcome: rx.Var[str]) -> rx.Component:
    return rx.match(
        outcome,
        *((value, rx.badge(label, color_scheme=colour)) for value, label, colour in OUTCOME_LABELS),
        rx.badge(outcome),
    )


def report_row(row: rx.Var[ImportRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.position),
        rx.table.cell(outcome_badge(row.outcome)),
        rx.table.cell(
            rx.vstack(
                rx.text(row.url, size="2", word_break="break-all"),
                rx.text(row.message, size="1", color=rx.color("gray", 11)),
                spacing="1",
            )
        ),
        data_testid="import-line",
    )


def report_section() -> rx.Component:
    return rx.cond(
        ImportState.job_id != 0,
        rx.card(
            rx.vstack(
                rx.heading(rx.cond(ImportState.running, "Importing…", "Last import"), size="5", as_="h2"),
                rx.text(
                    "Started ",
                    ImportState.started,
                    ". It carries on if you close this page.",
                    size="2",
                    color=rx.color("gray", 11),
                ),
                rx.progress(value=ImportState.progress, max=100, width="100%", aria_label="Import progress"),
                rx.text(
                    ImportState.done,
                    " of ",
                    ImportState.total,
                    " lines done: ",
                    ImportState.added,
                    " added, ",
                    ImportState.watched,
                    " already watched, ",
                    ImportState.refused,
                    " refused.",
                    data_testid="import-summary",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Line"),
                            rx.table.column_header_cell("Result"),
                            rx.table.column_header_cell("Link"),
                        )
                    ),
                    rx.table.body(rx.foreach(ImportState.rows, report_row)),
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            size="3",
            width="100%",
        ),
    )


def import_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Import links", size="5", as_="h2"),
            rx.text(
                "Paste product links, one per line, or upload a text or CSV file (a url column, with "
                "optional mode and target columns) or a CloudTrack JSON export. CloudTrack reads a few "
                "pages at a time, one at a time per shop, and reports each line.",
                size="2",
                color=rx.color("gray", 11),
            ),
            form_error(ImportState.import_error),
            rx.form(
                rx.vstack(
                    rx.el.label("Links", html_for="import-links", font_weight="500"),
                    rx.text_area(
                        id="import-links",
                        name="links",
                        placeholder="https://shop.example/product/1\nhttps://another.example/item/2",
                        rows="6",
                        width="100%",
                    ),
                    rx.button("Import these links", type="submit", disabled=ImportState.running),
                    spacing="2",
                    width="100%",
                ),
                on_submit=ImportState.import_text,
                reset_on_submit=True,
                width="100%",
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("upload", size=20),
                    rx.text("Drop a .txt, .csv or .json file here, or click to choose one", size="2"),
                    align="center",
                    spacing="1",
                ),
                id=UPLOAD_ID,
                accept={
                    "text/plain": [".txt"],
                    "text/csv": [".csv"],
                    "application/json": [".json"],
                },
                max_files=1,
                disabled=ImportState.running,
                on_drop=ImportState.import_file(rx.upload_files(upload_id=UPLOAD_ID)),
                border=f"1px dashed {rx.color('gray', 7)}",
                border_radius="var(--radius-3)",
                padding="1.25rem",
                width="100%",
                cursor="pointer",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def export_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Export", size="5", as_="h2"),
            rx.text(
                "All your watches. The JSON file imports again with everything as it was, pauses "
                "included; the CSV file is for spreadsheets.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.hstack(
                rx.button("Download JSON", on_click=ImportState.download_json, variant="soft"),
                rx.button("Download CSV", on_click=ImportState.download_csv, variant="soft"),
                spacing="3",
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def import_page() -> rx.Component:
    return protected(
        rx.vstack(
            rx.heading("Import and export", size="8", as_="h1"),
            import_section(),
            report_section(),
            export_section(),
            spacing="5",
            width="100%",
            max_width="52rem",
        )
    )
