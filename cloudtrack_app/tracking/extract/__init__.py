"""Product pages from any shop → price, currency, stock state (framework-free)."""

from cloudtrack_app.tracking.extract.core import Extraction, extract
from cloudtrack_app.tracking.extract.money import parse_money

__all__ = ["Extraction", "extract", "parse_money"]
