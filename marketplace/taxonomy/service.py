"""The taxonomies: loaded once per process (they change only when the seed files do)."""

from __future__ import annotations

from marketplace.db import Connection, Pool
from marketplace.taxonomy import queries
from marketplace.taxonomy.models import Taxonomy


async def load(conn: Connection | Pool) -> Taxonomy:
    return await queries.fetch_taxonomy(conn)


async def save(conn: Connection, taxonomy: Taxonomy) -> None:
    """Insert or update every code (codes are never deleted: records refer to them)."""
    await queries.upsert_taxonomy(conn, taxonomy)
