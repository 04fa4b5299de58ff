"""The unified inbox: ingest, replies, notes, assignment and status changes."""
