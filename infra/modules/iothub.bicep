// A new IoT Hub for the fleet. Deployed by main.bicep only when no existing hub is named.

@description('Name of the IoT Hub (globally unique, 3-50 characters).')
param name string

@description('Azure region of the hub.')
param location string

@description('IoT Hub tier. Basic tiers lack device twins and direct methods, which the app needs.')
@allowed([
  'F1'
  'S1'
  'S2'
  'S3'
])
param sku string

@description('Number of IoT Hub units (F1 allows exactly 1).')
@minValue(1)
@maxValue(200)
param units int

@description('Tags for the hub.')
param tags object

@description('Refuse the hub-level shared access policies (iothubowner, service, ...) so only Microsoft Entra identities reach the service APIs. Device keys are not affected.')
param disableLocalAuth bool

resource hub 'Microsoft.Devices/IotHubs@2023-06-30' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    capacity: units
  }
  properties: {
    minTlsVersion: '1.2'
    // Devices in the field connect over the internet; add ipFilterRules when the fleet's
    // egress addresses are known.
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: disableLocalAuth
    features: 'None'
  }
}

output name string = hub.name
output hostName string = hub.properties.hostName
