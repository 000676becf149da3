"""Threadline: an event-sourced core for coding-agent sessions.

The layers live at the top of the source tree (``domain/``, ``application/``,
``adapters/``); this package holds a link to each, so that they install and
import as ``threadline.domain``, ``threadline.application`` and
``threadline.adapters`` (ADR 0010).
"""
