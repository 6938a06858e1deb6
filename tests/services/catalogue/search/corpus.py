"""Small hand-written documents for the search tests."""

from collections.abc import Mapping, Sequence

from services.catalogue.search import Hit, SearchDocument
from services.catalogue.search.documents import DocumentKind


def document(
    document_id: str,
    title: str,
    *,
    kind: DocumentKind = "leistung",
    alt_titles: Sequence[str] = (),
    keywords: Sequence[str] = (),
    taxonomy: str = "",
    body: str = "",
    facets: Mapping[str, Sequence[str]] | None = None,
    online: bool = False,
    regions: Sequence[str] | None = None,
) -> SearchDocument:
    """A search document with the payload {"key": id}."""
    return SearchDocument(
        id=document_id,
        kind=kind,
        title=title,
        alt_titles=alt_titles,
        keywords=keywords,
        taxonomy_text=taxonomy,
        body=body,
        facets=facets or {},
        online=online,
        regions=regions,
        payload={"key": document_id},
    )


def ids(hits: Sequence[Hit]) -> list[str]:
    """The ids of hits, in order."""
    return [hit.id for hit in hits]


#: A few Leistungen as the LeiKa names them, with their OZG taxonomy.
LEISTUNGEN = (
    document(
        "pa", "Personalausweis", taxonomy="Personalausweis Querschnitt Bürger", facets={"themenfeld": ["Querschnitt"]}
    ),
    document(
        "pa-aus",
        "Personalausweis Ausstellung",
        taxonomy="Personalausweis Querschnitt Bürger",
        facets={"themenfeld": ["Querschnitt"]},
        online=True,
    ),
    document("rp", "Reisepass", taxonomy="Reisepass Auslandsaufenthalt", facets={"themenfeld": ["Querschnitt"]}),
    document("krp", "Kinderreisepass", taxonomy="Reisepass Auslandsaufenthalt", facets={"themenfeld": ["Querschnitt"]}),
    document(
        "wg", "Wohngeld", taxonomy="Wohngeld Finanzielle Unterstützung", facets={"themenfeld": ["Familie & Kind"]}
    ),
    document("kg", "Kindergeld", taxonomy="Kindergeld Geburt", facets={"themenfeld": ["Familie & Kind"]}, online=True),
    document("hs", "Hundesteuer", taxonomy="Hundehaltung Tierhaltung", facets={"themenfeld": ["Steuern"]}),
    document("ha", "Hundehaltung Anmeldung", taxonomy="Hundehaltung Tierhaltung", facets={"themenfeld": ["Freizeit"]}),
    document("fs", "Führerschein", taxonomy="Führerschein Mobilität", facets={"themenfeld": ["Mobilität & Reisen"]}),
    document(
        "fe",
        "Fahrerlaubnis Verlängerung",
        taxonomy="Fahrerlaubnis Mobilität",
        facets={"themenfeld": ["Mobilität & Reisen"]},
    ),
    document(
        "ws", "Wohnsitz Anmeldung", taxonomy="Wohnsitzmeldungen Wohnen & Umzug", facets={"themenfeld": ["Wohnen"]}
    ),
    document(
        "eh",
        "Eheschließung Anmeldung",
        taxonomy="Eheschließung Familie",
        body="Die Anmeldung der Eheschließung erfolgt beim Standesamt.",
        facets={"themenfeld": ["Familie & Kind"]},
    ),
)
