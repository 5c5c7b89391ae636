"""Thin translation layers for users of other systems.

``trace_opt.compat.opto`` answers to Microsoft Trace's ``opto`` names: a Trace program runs by
changing its imports (``from opto import trace`` -> ``from trace_opt.compat.opto import trace``).
Every name maps onto trace_opt's own objects; nothing here is a second implementation.
docs/migrating_from_trace.md has the table, name by name.
"""
