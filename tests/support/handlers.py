"""Handlers are loaded the way the local stack loads them (see ``devstack.handlers``)."""

from devstack.handlers import load_handler

__all__ = ["load_handler"]
