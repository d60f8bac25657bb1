import cluster, { Worker } from 'node:cluster';
import { AggregatorRegistry, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/**
 * `/metrics` under a cluster: a scrape reaches one worker, which asks the primary; the
 * primary asks every worker for its registry as JSON over the cluster IPC channel and
 * answers with the sum (prom-client's `AggregatorRegistry.aggregate`: counters, histograms
 * and gauges such as in-flight requests and the ledger backlog summed).
 *
 * The exchange is TokenHub's own rather than prom-client's cluster listeners: theirs throw in
 * the primary when a worker answers after the timeout, and that would take the primary down.
 * Here a late answer finds no collection waiting and is dropped.
 */
const REQUEST = 'tokenhub:metrics-req';
const RESPONSE = 'tokenhub:metrics-res';
const COLLECT = 'tokenhub:metrics-collect';
const COLLECTED = 'tokenhub:metrics-collected';
/** How long the primary waits for the workers; the asking worker waits a little longer. */
const COLLECT_TIMEOUT_MS = 5_000;
const TIMEOUT_MS = 6_000;

type Metrics = MetricObjectWithValues<MetricValue<string>>[];
interface Message {
  type: string;
  id: number;
  text?: string;
  error?: string;
  metrics?: Metrics;
}

/** In the primary: answers the workers' requests for the cluster's metrics. */
export function serveClusterMetrics(): void {
  let nextCollection = 0;
  const collections = new Map<number, { waiting: Set<number>; metrics: Metrics[]; done(): void }>();
  cluster.on('message', (worker: Worker, message: Message) => {
    if (message?.type === COLLECTED) {
      const collection = collections.get(message.id);
      if (!collection || !collection.waiting.delete(worker.id)) return;
      if (message.metrics) collection.metrics.push(message.metrics);
      if (collection.waiting.size === 0) collection.done();
      return;
    }
    if (message?.type !== REQUEST) return;
    const reply = (answer: Pick<Message, 'text' | 'error'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...answer } satisfies Message);
    };
    const id = nextCollection++;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
    const finish = () => {
      clearTimeout(timer);
      const collection = collections.get(id);
      collections.delete(id);
      if (!collection || collection.metrics.length === 0) return reply({ error: 'no worker answered' });
      AggregatorRegistry.aggregate(collection.metrics)
        .metrics()
        .then((text) => reply({ text }), (err: Error) => reply({ error: err.message }));
    };
    // A worker that does not answer in time is left out of this scrape.
    const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
    collections.set(id, { waiting: new Set(workers.map((w) => w.id)), metrics: [], done: finish });
    for (const w of workers) w.send({ type: COLLECT, id } satisfies Message);
  });
}

/** In a worker: hands `registry` to the primary whenever it collects. */
export function offerWorkerMetrics(registry: Registry): void {
  process.on('message', (message: Message) => {
    if (message?.type !== COLLECT) return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics } satisfies Message),
      () => process.send?.({ type: COLLECTED, id: message.id } satisfies Message),
    );
  });
}

let nextId = 0;
const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
let listening = false;

/** In a worker: the whole cluster's metrics, from the primary. */
export function requestClusterMetrics(): Promise<string> {
  if (!listening) {
    listening = true;
    process.on('message', (message: Message) => {
      if (message?.type !== RESPONSE) return;
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.text !== undefined) waiter.resolve(message.text);
      else waiter.reject(new Error(`the cluster metrics could not be collected: ${message.error}`));
    });
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error('the cluster primary did not answer for the metrics in time'));
    }, TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    process.send!({ type: REQUEST, id } satisfies Message);
  });
}
