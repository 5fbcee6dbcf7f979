/**
 * The installed features, in order (see composition.ts). Each feature adds one line here; the
 * order matters where they wrap one another (metrics first so it measures the wrapped driver).
 */
import type { Installer } from './composition.js';
import { authInstaller } from './features/auth.js';
import { notificationsInstaller } from './features/notifications.js';
import { operationsInstaller } from './features/operations.js';
import { proxyInstaller } from './features/proxy.js';
import { storageMiddlewareInstaller } from './features/storage-middleware.js';

export const INSTALLERS: Installer[] = [
  operationsInstaller,
  storageMiddlewareInstaller,
  authInstaller,
  proxyInstaller,
  notificationsInstaller,
];
