"""Writes: every change to the domain goes through a named, keyword-only
function, one module per capability."""
