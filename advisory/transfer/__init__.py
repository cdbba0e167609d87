"""Moving records in and out in bulk.

imports  CSV imports of clients and engagements: check, plan, apply
jobs     a large confirmed import, run by the worker with progress
uploads  the file an import previews, kept until it is confirmed
exports  CSV exports of lists, with spreadsheet formulas neutralised
"""
