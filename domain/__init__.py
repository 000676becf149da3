"""Threadline's domain: threads (Session aggregates), the import ledger (Import
aggregates) and the conversation items they record. Pure: no I/O, no SQL, no asyncio."""
