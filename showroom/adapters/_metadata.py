"""The one SQLAlchemy `MetaData` of the commerce schema: tables.py and its subject modules define their tables on
it, so `create_all` (tests) and the adapters see one schema."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
