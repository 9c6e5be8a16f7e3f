"""Placeholder: being written (see the issue)."""
__all__ = []
