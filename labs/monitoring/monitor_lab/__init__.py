"""monitor_lab: know when a model in production goes wrong, before the labels say so.

Modules you complete (one per task): ``metrics`` (1), ``predlog`` (2), ``drift`` (3),
``cbpe`` (4), the rules file ``rules/slo_alerts.yml`` (5) and ``incident`` (6). Given:
``service`` (the churn model server you instrument) and ``week`` (a seeded week of
traffic with incidents in it).
"""
