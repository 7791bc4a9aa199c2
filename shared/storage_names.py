"""Names of the tables, queues and blob containers the app uses (the deployment creates them)."""

JOBS_TABLE = "jobs"
JOB_DEVICES_TABLE = "jobdevices"
DEVICE_GROUPS_TABLE = "devicegroups"
HUB_SENDERS_TABLE = "hubsenders"
ACCESS_TABLE = "access"  # API token records and users
AUDIT_TABLE = "auditlog"
SCHEDULED_JOBS_TABLE = "scheduledjobs"
TABLES = (JOBS_TABLE, JOB_DEVICES_TABLE, DEVICE_GROUPS_TABLE, HUB_SENDERS_TABLE, ACCESS_TABLE, AUDIT_TABLE,
          SCHEDULED_JOBS_TABLE)

PLAN_QUEUE = "jobs-plan"
DISPATCH_QUEUE = "jobs-dispatch"
OUTCOMES_QUEUE = "jobs-outcomes"
QUEUES = (PLAN_QUEUE, DISPATCH_QUEUE, OUTCOMES_QUEUE)

JOB_HISTORY_CONTAINER = "job-history"
REGISTRY_EXPORTS_CONTAINER = "registry-exports"  # IoT Hub's exports of its registry, for planning
BLOB_CONTAINERS = (JOB_HISTORY_CONTAINER, REGISTRY_EXPORTS_CONTAINER)
