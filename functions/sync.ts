import { app } from '@azure/functions';
import { changeEventSchema } from '../shared/domain/change-event';
import { handleChangeMessage } from '../shared/domain/sync/handle-message';
import { allQueueNames } from '../shared/queues';
import { getRuntime } from '../shared/runtime';
import { queueWorker } from './lib/servicebus';

/**
 * One Service Bus-triggered function per table-mapping queue (`sync-customer`, `sync-item-product`, …). All of
 * them call the same `syncRecord` use case through `handleChangeMessage`, which decides complete vs retry.
 */
for (const queueName of allQueueNames().filter((q) => q.startsWith('sync-'))) {
  app.serviceBusQueue(queueName, {
    connection: 'SERVICEBUS_CONNECTION',
    queueName,
    handler: queueWorker(queueName, changeEventSchema, async (event, context, delivery) => {
      const outcome = await handleChangeMessage(event, delivery, (await getRuntime()).syncDeps);
      if (outcome) context.log(`${outcome.mapping}: ${outcome.result}${outcome.message ? ` — ${outcome.message}` : ''}`);
    }),
  });
}
