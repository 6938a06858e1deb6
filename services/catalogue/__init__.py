"""The catalogue service: administrative services (Leistungen, LeiKa keys), fees, authorities
(Organisationseinheiten), responsibilities (Zuständigkeiten) by region (ARS), and search.
"""
