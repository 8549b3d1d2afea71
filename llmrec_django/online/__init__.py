"""Online measurement: served-list logging, attribution, experiments, exploration and reports.

- ``log``: every served list gets an id and is written in batches off the response path;
- ``experiments``: deterministic assignment of users to arms, shadow arms;
- ``serving``: what the interfaces (API, template tags, conversations) call: the recommend
  service with the user's arm, exploration and logging;
- ``list_cache``: a user's lists kept until their events, vector, profile, the serving state or
  the listed items change (or a minute passes);
- ``attribution``: engagement events credited to the list and position that showed the item;
- ``report``: CTR, conversion, revenue per impression, coverage, novelty per arm and day, with
  intervals and significance tests (maths in ``core.online_stats``).
"""
