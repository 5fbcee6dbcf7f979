// The shared driver suite against the S3 driver on a real Ceph RGW, in a fresh bucket.
import { runDriverSuite } from '../../src/storage/driver/testsuite/driver-suite.js';
import { parseS3Parameters } from '../../src/storage/driver/s3/options.js';
import { S3Driver } from '../../src/storage/driver/s3/s3-driver.js';
import { startRgw } from '../helpers/rgw.js';

runDriverSuite(
  's3 (Ceph RGW)',
  async () => {
    const rgw = await startRgw();
    const bucket = await rgw.createBucket();
    // The smallest part size S3 allows, so the streamed round trip crosses many part boundaries.
    const driver = new S3Driver(parseS3Parameters(rgw.storageConfig(bucket, { chunksize: 5 * 1024 * 1024, rootdirectory: '/suite/root' })));
    return {
      driver,
      teardown: async () => {
        driver.destroy();
        await rgw.stop();
      },
    };
  },
  { redirects: true, largeSize: 64 * 1024 * 1024 },
);
