"""German-aware search over the catalogue's Leistungen and Organisationseinheiten, in memory.

Build a :class:`SearchIndex` from :class:`SearchDocument`\\ s (:func:`leistung_document`,
:func:`organisationseinheit_document`), keep it current with ``upsert``/``remove``, give it the
editors' synonyms with ``set_synonyms``, and ask it with ``search`` and ``suggest``.
"""

from services.catalogue.search.documents import SearchDocument, leistung_document, organisationseinheit_document
from services.catalogue.search.index import Hit, SearchIndex, SearchResult
from services.catalogue.search.ranking import RankingParameters

__all__ = [
    "Hit",
    "RankingParameters",
    "SearchDocument",
    "SearchIndex",
    "SearchResult",
    "leistung_document",
    "organisationseinheit_document",
]
