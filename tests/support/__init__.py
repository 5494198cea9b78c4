"""The shared test tools, one module per job (import each name from its module):

- ``paths``: ``ROOT``, the checkout the tests run from.
- ``clock``: the pinned clock: ``NOW``, and the clock of child processes (``clock_env``,
  libfaketime with ``tests/clock/clock_nanosleep.c`` preloaded).
- ``endpoints``: Datadog's endpoints, each stream's primary key, the days calendar rules turn on.
- ``settings``: configs pointing the tap at the simulator, and the bad settings table.
- ``running``: running the tap in-process (``sync``) or as the CLI, and its messages
  (``SyncResult``).
- ``logs``: reading the tap's log.
- ``seen``: what the simulator saw: requests per endpoint, the status of each answer.
- ``records``: what a target holds: records merged on their primary keys, and checks on them.
- ``loaders``: the Quickstart and Meltano runs, and what they loaded.
- ``postgres``: a PostgreSQL server of the test's own.
- ``latest``: Datadog's latest answer, per period (withdrawals).
- ``secrets``: keys whose every printed form differs from the key, and the bytes that would
  give a key away (``given_away``).
"""
