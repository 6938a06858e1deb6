"""The mailbox service: the postbox of citizens and organisations: authorities deliver documents and
decisions, with attachments, read receipts and replies.
"""
