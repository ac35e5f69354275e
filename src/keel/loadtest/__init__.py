"""The load test: mixed traffic from Locust against a real `keel serve`.

Platforms post batches of earnings events and single events with their API keys, workers
read their dashboard, income and benefits pages (and the API with their own keys), and
pool members open their pools, report emergency claims and approve each other's claims.
`keel bench --load` runs it (a few minutes); `make soak` runs ten minutes on PostgreSQL;
tests/load runs it for seconds.

The parts run in separate processes, so that Django settings and Locust's gevent patching
never meet in one interpreter:

* `keel.loadtest.world` (Django): migrates the run's database and builds the world the
  traffic needs; the passwords and keys it made go to a JSON file in the run's directory.
* `keel.loadtest.locustfile` (Locust): the simulated people.
* `keel.loadtest.drive` (Locust, headless, as a library): runs them against a server for
  a while and writes per-operation statistics.
* `keel.loadtest.runner` (neither): creates the database, starts `keel serve` and
  `keel tasks`, runs the three above, verifies the ledger and makes the table.
"""

# The operations the traffic is made of, as Locust names them in its statistics; each
# simulated person runs every operation of theirs once before the weights take over, so
# even a short run exercises all of them.
LOG_IN_PAGE = "log-in page"
LOG_IN = "log in"
PLATFORM_BATCH = "platform: batch of 100-1,000 events"
PLATFORM_SINGLE = "platform: single event"
PLATFORM_RESEND = "platform: event sent again"
WORKER_DASHBOARD = "worker: dashboard"
WORKER_INCOME = "worker: income page"
WORKER_BENEFITS = "worker: benefits page"
WORKER_API_BENEFITS = "worker: GET /api/v1/benefits (own key)"
WORKER_API_ACCOUNTS = "worker: GET /api/v1/ledger/accounts (own key)"
POOL_PAGE = "pool: pool page"
POOL_CLAIMS_API = "pool: GET /api/v1/pools/<slug>/claims"
POOL_CLAIM_PAGE = "pool: claim page"
POOL_APPROVE = "pool: approve a claim"
POOL_REPORT = "pool: report an emergency claim"

OPERATIONS = (
    LOG_IN_PAGE,
    LOG_IN,
    PLATFORM_BATCH,
    PLATFORM_SINGLE,
    PLATFORM_RESEND,
    WORKER_DASHBOARD,
    WORKER_INCOME,
    WORKER_BENEFITS,
    WORKER_API_BENEFITS,
    WORKER_API_ACCOUNTS,
    POOL_PAGE,
    POOL_CLAIMS_API,
    POOL_CLAIM_PAGE,
    POOL_APPROVE,
    POOL_REPORT,
)
