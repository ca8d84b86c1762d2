import { connect, parseCommandArgs } from '../args.js';
import { EXIT } from '../io.js';
import { type Command, printJson, println } from './command.js';
import { singleId } from './job.js';

const options = { json: { type: 'boolean' } } as const;

/** `retry ID`: a failed job goes back to work. */
export const retryCommand: Command = {
  name: 'retry',
  summary: 'retry a failed job',
  usage: `Usage: pnpm relay retry ID [--json]

Sends a failed job back to work (only failed jobs can be retried). When Gcore already has the
bytes, only the processing is followed again.`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('retry', argv, options);
    const id = singleId('retry', positionals);
    const client = await connect(values, io);
    const job = await client.retryJob(id);
    if (values.json) printJson(io, job);
    else println(io, `job ${job.id} is ${job.state} again; follow it with: pnpm relay job ${job.id}`);
    return EXIT.ok;
  },
};
