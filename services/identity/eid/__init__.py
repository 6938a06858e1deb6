"""The online ID card (Online-Ausweisfunktion): the eID connector interface and the eID server simulator."""
