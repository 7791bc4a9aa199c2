// Grants the Function App's identity the IoT Hub data-plane role on a hub (new or existing)
// and reports the hub's host name. Deployed into the hub's resource group.

@description('Name of the IoT Hub, in this module\'s resource group.')
param iotHubName string

@description('Principal (object) id of the Function App\'s user-assigned identity.')
param principalId string

// IoT Hub Data Contributor: twin reads and patches, direct methods, twin queries and registry
// export jobs (Microsoft.Devices/IotHubs/*). No narrower built-in role covers twins and direct methods together.
var iotHubDataContributorRoleId = '4fc6c259-987e-4a07-842e-c321cc9d413f'

resource hub 'Microsoft.Devices/IotHubs@2023-06-30' existing = {
  name: iotHubName
}

resource hubDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, iotHubDataContributorRoleId)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', iotHubDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output hostName string = hub.properties.hostName
