"""A day of energy control on a simulated clock, for scoring it (`manage.py energy_day`).

scenario.py reads and checks a scenario file, station.py is the simulated charger (the
profiles it holds and what its car draws), trace.py the trace's rows and CSV, clock.py the one
place the product's clock is moved, day.py runs the day through the product's own services and
command path, posting what the API would bring (series.py: a series as 15-minute slots) and
taking the runs those posts ask for in its steps (runtime.py). The scenario and trace formats
are issue 28's contract, docs/energy.md.
"""
