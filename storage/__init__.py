"""Storage: SQLAlchemy 2 async models, repositories, unit of work, migrations and demo data.

Public API (import from the modules; nothing is built at import time):
- `storage.database.make_engine(url, *, echo=False) -> AsyncEngine`
- `storage.migrate.migrate(engine) -> None` (upgrade to head; idempotent)
- `storage.uow.SqlAlchemyUnitOfWorkFactory(engine)` → `factory()` is a fresh unit of work
- `storage.demo.seed_demo(engine, now, *, extra_accounts=0) -> dict[str, int]`
"""
