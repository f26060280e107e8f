"""The watcher: what `byok watch` runs on a server, one process per database.

    lease.py     which process is the watcher (a lease in the database, taken over when its
                 holder dies), so two watchers never double the work or the deliveries
    outbox.py    alerts to deliver, durable: at least once, never again after the channel took it
    rules.py     what raises an alert: usage thresholds, health transitions
    channels.py  where alerts go: Apprise URLs from `channels.toml`
    metrics.py   the Prometheus exposition, rendered after each round and served as it is
    service.py   the loop that ties them together

The state lives in `byok.watch.json` beside the database (mode 0600, written atomically under
its own lock like every byok file). Apprise and prometheus-client load only here.
"""
