"""The routing service: takes submissions (Anträge) from portals, finds the responsible authority and
delivers them end-to-end encrypted to its back-end (FIT-Connect Submission and Routing API).
"""
