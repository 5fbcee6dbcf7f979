// The shared driver suite against the Azure driver on azurite, in a fresh container per run.
import { AzureDriver } from '../../src/storage/driver/azure/azure-driver.js';
import { resolveAzureOptions } from '../../src/storage/driver/azure/options.js';
import { runDriverSuite } from '../../src/storage/driver/testsuite/driver-suite.js';
import { startAzurite } from '../helpers/azurite.js';

runDriverSuite(
  'azure',
  async () => {
    const azurite = await startAzurite();
    const container = await azurite.createContainer('suite');
    const driver = new AzureDriver(resolveAzureOptions(azurite.parameters(container, { rootdirectory: '/suite-root/' })));
    return {
      driver,
      teardown: async () => {
        driver.close();
        await azurite.stop();
      },
    };
  },
  { redirects: true },
);
