"""What the book's pages use around their analysis.

* :mod:`~interplib.book.cells`: :func:`~interplib.book.cells.glue`,
  :func:`~interplib.book.cells.glue_all` and :func:`~interplib.book.cells.claim` (numbers into
  prose, sentences checked), :func:`~interplib.book.cells.setup` (seeds and device);
* :mod:`~interplib.book.plotting`: the book's figures (plotly), shown the same way everywhere;
* :mod:`~interplib.book.tables`: labelled top-k tables;
* :mod:`~interplib.book.status`: versions, device and build times for the status page;
* :mod:`~interplib.book.site`: the Sphinx extension that makes the built site work offline;
* :mod:`~interplib.book.links`: the book's external links, listed and checked.
"""

from interplib.book import plotting, status, tables
from interplib.book.cells import ClaimError, claim, glue, glue_all, setup

__all__ = [
    "ClaimError",
    "claim",
    "glue",
    "glue_all",
    "setup",
    "plotting",
    "status",
    "tables",
]
