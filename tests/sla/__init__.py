"""Tests of the SLA engine (contract §3-6)."""
