// The whole app in one resource group: Function App (Flex Consumption, Python 3.11), its Storage
// account, IoT Hub (new, or an existing one by name), Application Insights with Log Analytics,
// and one user-assigned identity holding only the data-plane roles the app and the host use.
// No connection strings or keys anywhere: every service is reached with that identity.
// The app authenticates and authorizes every request itself (API tokens, Microsoft Entra ID
// bearer tokens, optionally App Service Authentication in front); function keys open nothing.
// Deploy: see infra/README.md.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- parameters

@description('Azure region for every new resource; it must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Start of every resource name: 3-11 lower-case letters or digits.')
@minLength(3)
@maxLength(11)
param namePrefix string = 'devicejobs'

@description('Tags applied to every new resource.')
param tags object = {}

@description('Flex Consumption plan SKU (FC1 is the only one Azure offers).')
@allowed([
  'FC1'
])
param functionPlanSku string = 'FC1'

@description('Memory of each Function App instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on Function App instances the plan scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Name of an existing IoT Hub to use. Empty: create a new hub.')
param existingIotHubName string = ''

@description('Resource group of the existing IoT Hub (default: this deployment\'s resource group).')
param existingIotHubResourceGroup string = resourceGroup().name

@description('Tier of a new IoT Hub. Basic tiers lack device twins and direct methods, which the app needs.')
@allowed([
  'F1'
  'S1'
  'S2'
  'S3'
])
param iotHubSku string = 'S1'

@description('Units of a new IoT Hub (F1 allows exactly 1).')
@minValue(1)
@maxValue(200)
param iotHubUnits int = 1

@description('New hub only: refuse hub-level shared access policies, so service APIs accept only Microsoft Entra identities. Device keys keep working.')
param iotHubDisableLocalAuth bool = true

// IoT Hub pacing, for the whole hub: the instances sending at once split these rates (each
// announces itself in the hubsenders table). 0: no pacing. The defaults are one S1 unit; raise
// them with the hub's tier and units.
@description('HUB_TWIN_READS_PER_SECOND: twin reads per second for the hub, split among the instances sending (0: no pacing).')
@minValue(0)
param hubTwinReadsPerSecond int = 100

@description('HUB_TWIN_UPDATES_PER_SECOND: twin updates per second for the hub, split among the instances sending (0: no pacing).')
@minValue(0)
param hubTwinUpdatesPerSecond int = 50

@description('HUB_METHOD_UNITS_PER_SECOND: direct-method units per second for the hub, split among the instances sending (0: no pacing).')
@minValue(0)
param hubMethodUnitsPerSecond int = 40

@description('HUB_QUERIES_PER_MINUTE: twin queries per minute for the hub, split among the instances sending (0: no pacing).')
@minValue(0)
param hubQueriesPerMinute int = 20

@description('HUB_MAX_ATTEMPTS: attempts per IoT Hub call, retrying server and connection errors.')
@minValue(1)
@maxValue(20)
param hubMaxAttempts int = 8

@description('HUB_THROTTLED_WAIT_SECONDS: a call the hub throttles (429) waits its turn this long before it fails Throttled.')
@minValue(1)
@maxValue(540)
param hubThrottledWaitSeconds int = 300

@description('HUB_INTERACTIVE_QUERY_PERCENT: part of the query budget that group reads and listings for HTTP callers may use; the rest is kept for planning.')
@minValue(1)
@maxValue(100)
param hubInteractiveQueryPercent int = 25

@description('HUB_INTERACTIVE_DEADLINE_SECONDS: the longest a hub call for an HTTP caller may take, retries included.')
@minValue(1)
@maxValue(120)
param hubInteractiveDeadlineSeconds int = 10

@description('GROUP_CHECK_CACHE_SECONDS: how long IoT Hub\'s verdict on a group filter is reused.')
@minValue(0)
@maxValue(3600)
param groupCheckCacheSeconds int = 60

@description('HEALTH_CACHE_SECONDS: GET /api/health answers from a check at most this old (0: every call).')
@minValue(0)
@maxValue(3600)
param healthCacheSeconds int = 30

// The pipeline (dispatcher): see the Configuration table of the project README.
@description('DISPATCH_CONCURRENCY: devices sent to at once per instance.')
@minValue(1)
@maxValue(256)
param dispatchConcurrency int = 32

@description('DISPATCH_STATUS_CHECK_SECONDS: how stale a sender\'s view of the job status may be when it starts a device (stop latency).')
@minValue(0)
@maxValue(60)
param dispatchStatusCheckSeconds int = 1

@description('PLAN_SECONDS_PER_INVOCATION: a planner invocation pages the group this long, then continues in a new message.')
@minValue(1)
@maxValue(540)
param planSecondsPerInvocation int = 120

@description('DISPATCH_STALL_SECONDS: a running job whose counters did not move for this long is recovered (0: no watchdog).')
@minValue(0)
@maxValue(86400)
param dispatchStallSeconds int = 900

@description('PLAN_FROM_REGISTRY_EXPORT: plan groups from an export of the hub\'s registry (one jobs operation) instead of twin queries.')
param planFromRegistryExport bool = true

// What one app holds at most: see the Configuration table of the project README.
@description('MAX_ACTIVE_JOBS: jobs pending, running or stopped at once; one more is refused (0: no limit).')
@minValue(0)
param maxActiveJobs int = 100

@description('MAX_DRAFT_JOBS: drafts the app keeps; one more is refused (0: no limit).')
@minValue(0)
param maxDraftJobs int = 1000

@description('MAX_DEVICE_GROUPS: device groups; a new one past it is refused (0: no limit).')
@minValue(0)
param maxDeviceGroups int = 1000

@description('PUBLIC_BASE_URL: the URL callers use (a gateway or custom domain in front of the app), for the links the API writes; empty: the URL the host sees.')
param publicBaseUrl string = ''

@description('TRUST_FORWARDED_HEADERS: take the links\' scheme and host from the reverse proxy\'s Forwarded / X-Forwarded-* headers; only when every request passes through it.')
param trustForwardedHeaders bool = false

// Job history retention: see the Configuration table of the project README.
@description('JOB_HISTORY_RETENTION_DAYS: ended jobs older than this are archived as CSV to job-history, then purged.')
@minValue(0)
@maxValue(3650)
param jobHistoryRetentionDays int = 30

@description('JOB_HISTORY_PURGE_SCHEDULE: NCRONTAB schedule (UTC, six fields) of the archive-and-purge timer.')
param jobHistoryPurgeSchedule string = '0 0 3 * * *'

// Scheduled jobs: see the Configuration table of the project README.
@description('SCHEDULED_JOBS_TIMER_SCHEDULE: NCRONTAB schedule (UTC, six fields) of the scheduler that starts scheduled jobs\' runs.')
param scheduledJobsTimerSchedule string = '0 * * * * *'

@description('SCHEDULED_JOBS_GRACE_MINUTES: how late a scheduled job\'s run may still start; later, it is recorded as missed.')
@minValue(0)
@maxValue(1440)
param scheduledJobsGraceMinutes int = 15

// Access: see the Access section of infra/README.md. There is no default administrator and no
// password: the first one is named here (or makes an API token with shared.access.admin_token).
@description('ENTRA_TENANT_ID: the Microsoft Entra ID tenant whose bearer tokens (and App Service Authentication sign-ins) the app accepts; set only together with entraAudiences.')
param entraTenantId string = tenant().tenantId

@description('ENTRA_AUDIENCES: what a bearer token must be for, comma-separated: the app registration\'s client id and/or Application ID URI. Empty: no bearer tokens, only API tokens.')
param entraAudiences string = ''

// Not deployer().objectId by default: checkov's Bicep parser (pinned in requirements-tools.txt)
// cannot read deployer(). The README passes `az ad signed-in-user show --query id`.
@description('ENTRA_ADMINISTRATORS: object ids (in entraTenantId), comma-separated, of the principals who are Administrators whatever the app\'s role assignments say: the first administrator. Takes effect only with entraAudiences.')
param administratorObjectIds string = ''

@description('ENTRA_CONSOLE_CLIENT_ID: the client id of the app registration (a single-page application) the console signs people in with; empty: the console takes API tokens only.')
param consoleClientId string = ''

@description('ENTRA_CONSOLE_SCOPE: the scope the console asks for, one of entraAudiences\' with a delegated permission, such as api://bulk-jobs/Jobs.Access.')
param consoleScope string = ''

@description('ENTRA_LOGIN_URL: where the console signs people in; a national cloud\'s login host instead of the global one.')
param entraLoginUrl string = 'https://login.microsoftonline.com'

@description('App Service Authentication (Easy Auth) with Microsoft Entra ID in front of the app, letting unauthenticated requests through (the app decides); sets TRUST_EASY_AUTH. Needs entraAudiences, whose first entry is then the app registration\'s client id.')
param enableEasyAuth bool = false

@description('API_REQUESTS_PER_SECOND: requests per second each caller may make, per instance; over it, 429.')
@minValue(1)
@maxValue(10000)
param apiRequestsPerSecond int = 20

@description('API_REQUEST_BURST: requests a caller may make at once before the rate applies.')
@minValue(1)
@maxValue(100000)
param apiRequestBurst int = 40

@description('AUDIT_RETENTION_DAYS: audit entries older than this are deleted by the daily purge.')
@minValue(1)
@maxValue(3650)
param auditRetentionDays int = 90

@description('Days Log Analytics keeps logs (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Daily Log Analytics ingestion cap in GB, a guard against runaway logging (-1: no cap).')
param logDailyCapGb int = 1

// ---------------------------------------------------------------- names

var suffix = uniqueString(resourceGroup().id, namePrefix)
var storageAccountName = take(replace(toLower('${namePrefix}${suffix}'), '-', ''), 24)
var functionAppName = '${namePrefix}-func-${suffix}'
var newIotHubName = '${namePrefix}-hub-${suffix}'
var iotHubName = empty(existingIotHubName) ? newIotHubName : existingIotHubName
var iotHubResourceGroup = empty(existingIotHubName) ? resourceGroup().name : existingIotHubResourceGroup

// Bearer tokens need a tenant and an audience: the app refuses a tenant without audiences, so
// ENTRA_TENANT_ID (and with it ENTRA_ADMINISTRATORS) is set only when there are audiences.
var entraAudienceList = empty(entraAudiences) ? [] : split(replace(entraAudiences, ' ', ''), ',')
var entraBearerTokens = !empty(entraAudienceList)

// What the app uses (shared/storage_names.py); the queues the app's triggers listen on each get
// the "-poison" queue the Functions host moves failed messages to.
var tableNames = [
  'jobs'
  'jobdevices'
  'devicegroups'
  'hubsenders'
  'access'
  'auditlog'
  'scheduledjobs'
]
var queueNames = [
  'jobs-plan'
  'jobs-plan-poison'
  'jobs-dispatch'
  'jobs-dispatch-poison'
  'jobs-outcomes'
  'jobs-outcomes-poison'
]
var blobContainerNames = [
  'job-history'
  'registry-exports'
]
// Flex Consumption keeps the published package here (functionAppConfig.deployment.storage).
var deploymentContainerName = 'app-package'

// Built-in role definitions (ids are the same in every tenant).
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

// ---------------------------------------------------------------- identity

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${suffix}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- storage

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches storage over public endpoints; shared keys are off, so only the app's Entra identity gets in
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35 (public endpoint, identity-only access)
  // checkov:skip=CKV_AZURE_206: locally redundant storage on purpose: job state is operational and re-creatable, and LRS keeps the idle cost minimal
  // checkov:skip=CKV_AZURE_43: the name is computed (lower-cased prefix + uniqueString, at most 24 characters), which checkov cannot evaluate
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in blobContainerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

// Registry exports are read once by planning, which deletes them; any left behind (a job
// deleted while it planned) go after a day.
resource exportsLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'registry-exports-after-a-day'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [ 'blockBlob', 'appendBlob' ]
              prefixMatch: [ 'registry-exports/' ]
            }
            actions: {
              baseBlob: {
                delete: { daysAfterCreationGreaterThan: 1 }
              }
            }
          }
        }
      ]
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

// ---------------------------------------------------------------- monitoring

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-log-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
    workspaceCapping: {
      dailyQuotaGb: logDailyCapGb
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-appi-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

// ---------------------------------------------------------------- IoT Hub

module iotHub 'modules/iothub.bicep' = if (empty(existingIotHubName)) {
  name: 'iothub'
  params: {
    name: newIotHubName
    location: location
    sku: iotHubSku
    units: iotHubUnits
    tags: tags
    disableLocalAuth: iotHubDisableLocalAuth
  }
}

module iotHubAccess 'modules/iothub-access.bicep' = {
  name: 'iothub-access'
  scope: resourceGroup(iotHubResourceGroup)
  params: {
    iotHubName: iotHubName
    principalId: identity.properties.principalId
  }
  dependsOn: [
    iotHub
  ]
}

// ---------------------------------------------------------------- role assignments

// Host storage (keys, timer and singleton leases, the deployment package) and the app's
// job-history archive. The Functions docs require Blob Data Owner for identity-based host storage.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue triggers (read, delete, move to -poison) and the app's sends between stages.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Jobs, device rows, progress counters, device groups, API tokens and role assignments, and the
// audit log (entity CRUD and transactions); at account scope, so it covers every table.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry into Application Insights, whose local (instrumentation key) auth is off.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- Function App

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption exists only in some regions and keeps two always-ready instances billed per function group
  name: '${namePrefix}-plan-${suffix}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: functionPlanSku
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the HTTP API is the product: other systems and people call it over the internet, with API tokens or Entra ID bearer tokens the app verifies itself
  // checkov:skip=CKV_AZURE_17: callers authenticate with API tokens or Entra ID bearer tokens; requiring client certificates would lock out every caller without one
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero; always-ready instances for failover would cost money at rest
  // checkov:skip=CKV_AZURE_213: the platform health check is not available on Flex Consumption; GET /api/health serves external probes
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Host storage and the app's tables, queues and blobs, through the identity.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        // The identity DefaultAzureCredential picks (shared/connections.py).
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'IOTHUB_HOST_NAME'
          value: iotHubAccess.outputs.hostName
        }
        {
          name: 'HUB_TWIN_READS_PER_SECOND'
          value: string(hubTwinReadsPerSecond)
        }
        {
          name: 'HUB_TWIN_UPDATES_PER_SECOND'
          value: string(hubTwinUpdatesPerSecond)
        }
        {
          name: 'HUB_METHOD_UNITS_PER_SECOND'
          value: string(hubMethodUnitsPerSecond)
        }
        {
          name: 'HUB_QUERIES_PER_MINUTE'
          value: string(hubQueriesPerMinute)
        }
        {
          name: 'HUB_MAX_ATTEMPTS'
          value: string(hubMaxAttempts)
        }
        {
          name: 'HUB_THROTTLED_WAIT_SECONDS'
          value: string(hubThrottledWaitSeconds)
        }
        {
          name: 'HUB_INTERACTIVE_QUERY_PERCENT'
          value: string(hubInteractiveQueryPercent)
        }
        {
          name: 'HUB_INTERACTIVE_DEADLINE_SECONDS'
          value: string(hubInteractiveDeadlineSeconds)
        }
        {
          name: 'GROUP_CHECK_CACHE_SECONDS'
          value: string(groupCheckCacheSeconds)
        }
        {
          name: 'HEALTH_CACHE_SECONDS'
          value: string(healthCacheSeconds)
        }
        {
          name: 'DISPATCH_CONCURRENCY'
          value: string(dispatchConcurrency)
        }
        {
          name: 'DISPATCH_STATUS_CHECK_SECONDS'
          value: string(dispatchStatusCheckSeconds)
        }
        {
          name: 'PLAN_SECONDS_PER_INVOCATION'
          value: string(planSecondsPerInvocation)
        }
        {
          name: 'DISPATCH_STALL_SECONDS'
          value: string(dispatchStallSeconds)
        }
        {
          name: 'PLAN_FROM_REGISTRY_EXPORT'
          value: string(planFromRegistryExport)
        }
        {
          name: 'JOB_HISTORY_RETENTION_DAYS'
          value: string(jobHistoryRetentionDays)
        }
        {
          name: 'MAX_ACTIVE_JOBS'
          value: string(maxActiveJobs)
        }
        {
          name: 'MAX_DRAFT_JOBS'
          value: string(maxDraftJobs)
        }
        {
          name: 'MAX_DEVICE_GROUPS'
          value: string(maxDeviceGroups)
        }
        {
          name: 'PUBLIC_BASE_URL'
          value: publicBaseUrl
        }
        {
          name: 'TRUST_FORWARDED_HEADERS'
          value: string(trustForwardedHeaders)
        }
        {
          name: 'JOB_HISTORY_PURGE_SCHEDULE'
          value: jobHistoryPurgeSchedule
        }
        {
          name: 'SCHEDULED_JOBS_TIMER_SCHEDULE'
          value: scheduledJobsTimerSchedule
        }
        {
          name: 'SCHEDULED_JOBS_GRACE_MINUTES'
          value: string(scheduledJobsGraceMinutes)
        }
        // Access (shared/access): API tokens name the app they are for (sr=), the site's name,
        // which the platform also sets as WEBSITE_SITE_NAME; set here so that it is in plain sight.
        {
          name: 'APP_NAME'
          value: functionAppName
        }
        {
          name: 'ENTRA_TENANT_ID'
          value: entraBearerTokens ? entraTenantId : ''
        }
        {
          name: 'ENTRA_AUDIENCES'
          value: join(entraAudienceList, ',')
        }
        {
          name: 'ENTRA_ADMINISTRATORS'
          value: entraBearerTokens ? replace(administratorObjectIds, ' ', '') : ''
        }
        // The console's sign-in (jobs_api/console): it needs bearer tokens, so only with audiences.
        {
          name: 'ENTRA_CONSOLE_CLIENT_ID'
          value: entraBearerTokens ? consoleClientId : ''
        }
        {
          name: 'ENTRA_CONSOLE_SCOPE'
          value: entraBearerTokens ? consoleScope : ''
        }
        {
          name: 'ENTRA_LOGIN_URL'
          value: entraLoginUrl
        }
        // Only with App Service Authentication in front (easyAuth below), which drops the
        // X-MS-CLIENT-PRINCIPAL headers callers send; elsewhere anyone could send them.
        {
          name: 'TRUST_EASY_AUTH'
          value: string(enableEasyAuth)
        }
        {
          name: 'API_REQUESTS_PER_SECOND'
          value: string(apiRequestsPerSecond)
        }
        {
          name: 'API_REQUEST_BURST'
          value: string(apiRequestBurst)
        }
        {
          name: 'AUDIT_RETENTION_DAYS'
          value: string(auditRetentionDays)
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
      ]
    }
  }
  dependsOn: [
    blobDataOwner
    queueDataContributor
    tableDataContributor
    metricsPublisher
    deploymentContainer
  ]
}

// Publishing goes through Microsoft Entra (func azure functionapp publish uses your az login);
// basic-auth FTP and SCM credentials stay off.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// App Service Authentication (Easy Auth), only with enableEasyAuth: Microsoft Entra ID signs
// callers in, but unauthenticated requests go through (the app decides, and API tokens are no
// Entra sign-in). The app trusts its X-MS-CLIENT-PRINCIPAL header (TRUST_EASY_AUTH) only then.
// No client secret: App Service validates bearer tokens; no token store (nothing needs them).
resource easyAuth 'Microsoft.Web/sites/config@2024-04-01' = if (enableEasyAuth) {
  // checkov:skip=CKV_AZURE_13: checkov reads the V1 authsettings schema (properties.enabled); authsettingsV2 is on through platform.enabled, which CKV_AZURE_56 checks
  // checkov applies its checks of a site's web config to every sites/config; this one is authsettingsV2, which has none of their properties:
  // checkov:skip=CKV_AZURE_63: web-config check (httpLoggingEnabled) misapplied to authsettingsV2; logs go to Application Insights
  // checkov:skip=CKV_AZURE_65: web-config check (detailedErrorLoggingEnabled) misapplied to authsettingsV2, which has no such property
  // checkov:skip=CKV_AZURE_66: web-config check (requestTracingEnabled) misapplied to authsettingsV2, which has no such property
  // checkov:skip=CKV_AZURE_80: web-config check (netFrameworkVersion) misapplied to authsettingsV2; the app is Python, not .NET
  // checkov:skip=CKV_AZURE_88: web-config check (Azure Files mounts) misapplied to authsettingsV2; Flex Consumption mounts no file share
  // checkov:skip=CKV_AZURE_222: site check (publicNetworkAccess) misapplied to authsettingsV2; the site is public on purpose (see functionApp)
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          // The deployment fails here when enableEasyAuth comes without entraAudiences.
          clientId: enableEasyAuth ? entraAudienceList[0] : ''
          openIdIssuer: '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: entraAudienceList
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.name
output functionAppUrl string = 'https://${functionApp.properties.defaultHostName}'
output storageAccountName string = storage.name
output iotHubName string = iotHubName
output iotHubHostName string = iotHubAccess.outputs.hostName
output identityClientId string = identity.properties.clientId
