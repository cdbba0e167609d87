"""Evidence beyond the log's fields.

files    evidence files: type sniffing, size limits, attaching
dossier  the client's printable dossier and the evidence pack (ZIP + manifest)
"""
