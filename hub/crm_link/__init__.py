"""The customer record: contacts, identities and their resolution, the timeline."""
