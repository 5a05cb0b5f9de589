"""Product pages from any shop → price, currency, stock state (framework-free)."""

from cloudtrack_app.tracking.extract.candidates import Candidate, PickedReading
from cloudtrack_app.tracking.extract.core import CONFIDENT, Extraction, extract, unsure
from cloudtrack_app.tracking.extract.money import parse_money
from cloudtrack_app.tracking.extract.selector import validate_selector

__all__ = [
    "CONFIDENT",
    "Candidate",
    "Extraction",
    "PickedReading",
    "extract",
    "parse_money",
    "unsure",
    "validate_selector",
]
