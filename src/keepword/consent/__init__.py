"""Consent: the append-only ledger, receipts, Global Privacy Control, preferences.

The ledger lives in :mod:`keepword.consent.ledger`; this package imports
nothing eagerly so that ``keepword.consent.changes`` stays cheap to import.
"""
