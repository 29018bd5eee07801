"""The store: the only package that speaks SQL (`Database`, one module per aggregate)."""
from collector.store.database import (
    Conn,
    Database,
    DatabaseError,
    HeldConnection,
    is_unavailable,
)

__all__ = ["Conn", "Database", "DatabaseError", "HeldConnection", "is_unavailable"]
