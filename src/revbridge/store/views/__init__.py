"""The queries behind what the faces show: the workbench's pages, the API's message view, the
CLI's listings and the demo's summary, one module per page family (``dashboard``, ``journals``,
``lineage``, ``changes``).

They read the tables so that nothing in ``web``, ``api``, ``cli`` or ``demo`` needs to know one:
each function takes a ``Database`` (it opens its own transaction) or a ``Tx`` (a page that shows
several figures from one snapshot composes them in one read) and returns frozen records in the
store's units (integer minor units, aware UTC datetimes). Shaping for display (money,
percentiles, labels) stays with the face; no view decides anything about posting or
reconciliation.
"""
