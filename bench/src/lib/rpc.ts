import type { ChildProcess } from 'node:child_process';

/** A request from the orchestrator to a child it forked. */
interface Call {
  rpc: number;
  method: string;
  params: unknown;
}

type Answer = { rpc: number; result: unknown } | { rpc: number; error: string };

export type Handlers = Record<string, (params: never) => unknown>;

/** Child side: answers the orchestrator's calls over the IPC channel. */
export function serve(handlers: Handlers): void {
  process.on('message', (message: Call) => {
    if (typeof message?.rpc !== 'number') return;
    const handler = handlers[message.method] as ((params: unknown) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no method ${message.method}`);
        return handler(message.params);
      })
      .then(
        (result) => process.send?.({ rpc: message.rpc, result: result ?? null } satisfies Answer),
        (error: unknown) =>
          process.send?.({
            rpc: message.rpc,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          } satisfies Answer),
      );
  });
  // The orchestrator going away ends the child too.
  process.on('disconnect', () => process.exit(0));
}

/** Orchestrator side: calls a forked child's handlers. */
export class RpcClient {
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (message: Answer) => {
      const pending = this.#pending.get(message?.rpc);
      if (!pending) return;
      this.#pending.delete(message.rpc);
      if ('error' in message) pending.reject(new Error(`${name}: ${message.error}`));
      else pending.resolve(message.result);
    });
    child.once('exit', (code, signal) => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${name} exited (${code ?? signal}) during a call`));
      }
      this.#pending.clear();
    });
  }

  call<T>(method: string, params: unknown = {}): Promise<T> {
    const rpc = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ rpc, method, params } satisfies Call, (error) => {
        if (error) {
          this.#pending.delete(rpc);
          reject(new Error(`${this.name}: ${error.message}`));
        }
      });
    });
  }
}
