"""The catalog API: every service, action and trigger, with the JSON schemas of their inputs.

It holds no user data, so it needs no session; unknown names are 404s (`UnknownService` and
`UnknownAction` are domain errors the API's error handlers answer).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from autofy.connectors.catalog import Catalog, catalog
from autofy.connectors.schemas import (
    ActionDescription,
    CatalogDescription,
    ServiceDescription,
    TriggerDescription,
)
from autofy.errors import error_responses

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

CatalogDependency = Annotated[Catalog, Depends(catalog)]


@router.get("", response_model=CatalogDescription)
async def get_catalog(connectors: CatalogDependency) -> CatalogDescription:
    return connectors.describe()


@router.get("/{service_name}", response_model=ServiceDescription, responses=error_responses(404))
async def get_service(service_name: str, connectors: CatalogDependency) -> ServiceDescription:
    return connectors.describe_service(service_name)


@router.get(
    "/{service_name}/{action_name}",
    response_model=ActionDescription | TriggerDescription,
    responses=error_responses(404),
)
async def get_action(
    service_name: str, action_name: str, connectors: CatalogDependency
) -> ActionDescription | TriggerDescription:
    return connectors.describe_action(service_name, action_name)
