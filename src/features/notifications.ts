/**
 * Webhook notifications (`notifications:`): the reference's events, delivered durably.
 *
 *   app:   open the per-endpoint queues (resuming what a previous run left), wrap every
 *          repository with the notification listener, add `/debug/notifications` to the debug server
 *   start: learn the listener's real port for `source.addr`, start the delivery loops
 *
 * Nothing is installed when no endpoint is enabled.
 */
import { randomUUID } from 'node:crypto';
import type { Composition, Installer } from '../composition.js';
import { notifyingRepository } from '../notifications/listener.js';
import { Notifier } from '../notifications/notifier.js';
import { queueDirectory } from '../notifications/queue-directory.js';
import { sourceAddr } from '../notifications/records.js';
import { metricSamples, statusRoute, type NotificationMetricsSource } from '../notifications/status.js';
import type { SourceRecord } from '../notifications/event.js';

interface NotificationsState {
  notifier: Notifier;
  source: SourceRecord;
}

// State per running registry: the installer object is shared by every registry in the process.
const states = new WeakMap<Composition, NotificationsState>();

/** The metrics of a running registry's notifications, for a Prometheus exporter (undefined: not configured). */
export function notificationMetrics(comp: Composition): NotificationMetricsSource | undefined {
  const state = states.get(comp);
  return state && { samples: () => metricSamples(state.notifier.status()) };
}

export const notificationsInstaller: Installer = {
  name: 'notifications',

  app(comp) {
    const { notifications, http } = comp.config;
    const endpoints = notifications.endpoints.filter((e) => !e.disabled);
    if (endpoints.length === 0) return;
    const directory = queueDirectory(comp.config);
    const logger = comp.logger.child({ component: 'notifications' });
    const notifier = new Notifier({ endpoints, directory, maxEvents: notifications.queue.maxevents, logger });
    const state: NotificationsState = { notifier, source: { addr: sourceAddr(http.addr), instanceID: randomUUID() } };
    states.set(comp, state);
    comp.onClose.push(() => notifier.close());
    comp.metricSources.push({ samples: () => metricSamples(notifier.status()) });
    comp.decorators.push(
      notifyingRepository({ sink: (event) => notifier.write(event), source: () => state.source, includeReferences: notifications.events.includereferences }),
    );
    comp.debugRoutes.push(statusRoute(() => notifier.status()));
    logger.info({ directory, endpoints: endpoints.map((e) => e.name) }, 'notifications: queues open');
  },

  start(comp) {
    const state = states.get(comp);
    if (!state) return;
    const port = comp.url && !comp.url.startsWith('unix:') ? Number(new URL(comp.url).port) : undefined;
    state.source = { ...state.source, addr: sourceAddr(comp.config.http.addr, port) };
    state.notifier.start();
  },
};
