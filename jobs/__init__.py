"""RQ job entry points, one module per kind of background work.

Each job takes ids, opens the app context, calls the feature's operation and owns the
one commit. The app enqueues them by import path (`coordinator/background.py`) and
never imports this package.

- `jobs.events`: run the handlers of one committed domain event.
- `jobs.matching`: a matching run, the repair of one freed seat.
- `jobs.notifications`: deliver one message; the periodic sweep of lost deliveries.
- `jobs.imports`: one uploaded CSV file (volunteers, population targets).
"""
