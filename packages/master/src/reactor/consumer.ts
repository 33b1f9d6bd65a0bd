import type { Logger } from 'pino';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { parseLifecycleMessage } from '@phoenix/protocol';
import type { Refusals } from '../limits/refusals.js';
import type { LifecycleReactor } from './reactor.js';

/**
 * Long-polls the lifecycle queue (every master does; SQS hands each message to one). A message is
 * deleted only after the reactor has stored its effect, or ignored it with a log line saying why
 * (a test message, an unknown group, an instance the group does not have). One that cannot be
 * parsed is made visible again at once and so reaches the dead-letter queue after the queue's
 * maxReceiveCount, with a log line each time; one whose handling failed for a passing reason waits
 * out its visibility timeout and is tried again. Nothing a message contains can stop the loop.
 */
export class LifecycleConsumer {
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly waitTimeSeconds: number,
    private readonly reactor: LifecycleReactor,
    private readonly log: Logger,
    private readonly refusals?: Refusals,
  ) {}

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      try {
        const { Messages = [] } = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            WaitTimeSeconds: this.waitTimeSeconds,
            MaxNumberOfMessages: 10,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.#abort.signal },
        );
        failures = 0;
        for (const message of Messages)
          await this.#handle(
            message.Body ?? '',
            message.ReceiptHandle ?? '',
            message.Attributes?.ApproximateReceiveCount,
          );
      } catch (err) {
        if (this.#abort.signal.aborted) break;
        failures++;
        this.log.warn({ err }, 'could not read the lifecycle queue');
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 250 * 2 ** failures)));
      }
    }
  }

  async #handle(body: string, receipt: string, receiveCount: string | undefined): Promise<void> {
    try {
      const parsed = parseLifecycleMessage(body);
      if (!parsed.ok) {
        this.refusals?.count('sqs', parsed.code);
        this.log.warn(
          { reason: parsed.reason, receiveCount, body: body.slice(0, 200) },
          'lifecycle message refused; it goes to the dead-letter queue after its last receive',
        );
        await this.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: this.queueUrl,
              ReceiptHandle: receipt,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
        return;
      }
      const outcome = await this.reactor.handle(parsed.event);
      if (!outcome.acted) {
        const { event } = parsed;
        this.log.warn(
          {
            reason: outcome.ignored,
            kind: event.kind,
            ...('instanceId' in event ? { instanceId: event.instanceId } : {}),
            ...('group' in event && event.group !== undefined ? { group: event.group } : {}),
          },
          'lifecycle message ignored and deleted',
        );
      }
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
    } catch (err) {
      this.log.error({ err, receiveCount }, 'lifecycle message handling failed; it will be retried');
    }
  }
}
