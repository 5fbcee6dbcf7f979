/**
 * Storage middlewares from `middleware.storage` (the reference's list of {name, disabled, options}),
 * applied in the storage phase in the order configured, each wrapping the driver so far:
 *
 *   redirect    options: baseurl                                       (any driver)
 *   cloudfront  options: baseurl, privatekey, keypairid, duration      (s3 driver)
 *
 * Both change only where blob GETs are redirected to, so they matter while
 * `storage.redirect.disable` is false. An unknown name stops the start-up, as in the reference.
 */
import type { Composition, Installer } from '../composition.js';
import type { StorageDriver } from '../storage/driver/driver.js';
import { CloudFrontMiddleware, parseCloudFrontOptions } from '../storage/driver/middleware/cloudfront.js';
import { parseRedirectOptions, RedirectMiddleware } from '../storage/driver/middleware/redirect.js';
import { objectKey } from '../storage/driver/s3/bucket.js';

const KNOWN = ['cloudfront', 'redirect'];

function wrap(comp: Composition, driver: StorageDriver, name: string, options: Record<string, unknown>, key: string): StorageDriver {
  const configured = comp.config.storage.driver;
  switch (name) {
    case 'redirect':
      return new RedirectMiddleware(driver, parseRedirectOptions(options, `${key}.options`));
    case 'cloudfront': {
      const parsed = parseCloudFrontOptions(options, `${key}.options`);
      if (options.ipfilteredby !== undefined && String(options.ipfilteredby).toLowerCase() !== 'none') {
        comp.logger.warn({ key: `${key}.options.ipfilteredby` }, 'cloudfront: ipfilteredby is not supported; every blob GET is redirected to CloudFront');
      }
      if (configured.name !== 's3') {
        comp.logger.warn({ key, driver: configured.name }, 'cloudfront: only works with the s3 driver; redirects are left to the driver');
        return new CloudFrontMiddleware(driver, parsed);
      }
      const root = typeof configured.parameters.rootdirectory === 'string' ? configured.parameters.rootdirectory : '';
      return new CloudFrontMiddleware(driver, { ...parsed, keyOf: (path) => objectKey(root, path) });
    }
    default:
      throw new Error(`${key}.name: unknown storage middleware ${JSON.stringify(name)} (available: ${KNOWN.join(', ')})`);
  }
}

export const storageMiddlewareInstaller: Installer = {
  name: 'storage-middleware',
  storage(comp) {
    const entries = comp.config.middleware.storage ?? [];
    entries.forEach((entry, i) => {
      if (entry.disabled) return;
      comp.driver = wrap(comp, comp.driver, entry.name, entry.options ?? {}, `middleware.storage[${i}]`);
      comp.logger.info({ middleware: entry.name }, 'storage middleware installed');
    });
  },
};
