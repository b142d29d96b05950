"""The web layer: one blueprint package per area of the office, each with routes (and forms).

Web packages import the domain modules in `villa/`; a domain module never imports from here.
"""
