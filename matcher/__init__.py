"""matcher: licence and health-food registration checks.

Public surface (the pipeline calls exactly this):
    Registry.load(store), registry.reload_if_changed(store)
    registered_functions(listing, registry, as_of) -> list[str] | None
    check(listing, findings, product_kind, registry, as_of) -> (licence Verdict, health_reg Verdict)
    import_registry(store, licences, health_foods, progress) -> ImportReport
    extract(fields) -> list[Identifier]
"""
from matcher.check import check, registered_functions
from matcher.identifiers import Identifier, extract
from matcher.importer import ImportReport, import_registry
from matcher.registry import Registry

__all__ = ["Registry", "check", "registered_functions", "import_registry", "ImportReport", "extract",
           "Identifier"]
