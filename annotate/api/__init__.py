"""REST API for the researcher/pipeline audience: the same services as the HTML views.

Every error answers with one body: {"detail": "...", "errors": {field: [messages]}}.
"""
