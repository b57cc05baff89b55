"""Small value types every stage shares: money, ids, locators, problems, the clock.

Nothing here does I/O or knows a framework; every other package may import it.
"""
