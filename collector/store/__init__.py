"""The store: the only package that speaks SQL (`Database`, one module per aggregate)."""
from collector.store.database import Conn, Database, DatabaseError, is_unavailable

__all__ = ["Conn", "Database", "DatabaseError", "is_unavailable"]
