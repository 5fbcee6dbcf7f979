import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import { runDriverSuite } from '../../src/storage/driver/testsuite/driver-suite.js';

runDriverSuite('inmemory', async () => ({ driver: new InMemoryDriver() }));
