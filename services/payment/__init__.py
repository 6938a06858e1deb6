"""The payment service: online payment of fees bound to a submission, refunds and reconciliation
(XBezahldienste).
"""
