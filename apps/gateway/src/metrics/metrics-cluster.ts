import cluster, { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';

/**
 * `/metrics` under a cluster: a scrape reaches one worker, which asks the primary; the
 * primary asks every worker for its registry (prom-client's AggregatorRegistry, over the
 * cluster IPC channel) and answers with the sum (histograms and counters summed, gauges
 * such as in-flight requests and the ledger backlog summed too).
 */
const REQUEST = 'tokenhub:metrics-req';
const RESPONSE = 'tokenhub:metrics-res';
/** AggregatorRegistry gives up on a silent worker after 5 s; the asking worker waits a little longer. */
const TIMEOUT_MS = 6_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

/** In the primary: answers the workers' requests for the cluster's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: MetricsRequest) => {
    if (message?.type !== REQUEST) return;
    const reply = (answer: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...answer } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: Error) => reply({ error: err.message }),
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
    process.on('message', (message: MetricsResponse) => {
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
    process.send!({ type: REQUEST, id } satisfies MetricsRequest);
  });
}
