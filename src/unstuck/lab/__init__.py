"""``unstuck lab``: each claim of the article, measured on the running service.

The lab starts the service (``unstuck serve --antipatterns``) as separate
processes, drives it over HTTP with its own standard-library load generator
(:mod:`unstuck.lab.load`), and for every claim (:mod:`unstuck.lab.claims`)
reports what was measured, the ideal or limit, their ratio and a verdict, in
the console, ``results.json`` and ``report.html`` with plots. It never imports
the service: what it knows of it is its command line, its ``UNSTUCK_*``
settings and its routes.
"""
