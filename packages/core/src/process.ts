/**
 * For a process's entry point: runs `main`, and on the first SIGTERM or SIGINT runs `stop` once
 * and exits 0. A failure to start prints the error and exits 1.
 */
export function runProcess(main: () => Promise<(signal: string) => Promise<void>>): void {
  main().then(
    (stop) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) return;
        stopping = true;
        void stop(signal).finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
