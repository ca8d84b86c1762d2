import { connect, parseCommandArgs } from '../args.js';
import { EXIT } from '../io.js';
import { type Command, printJson, println } from './command.js';
import { singleId } from './job.js';

const options = { 'delete-video': { type: 'boolean' }, json: { type: 'boolean' } } as const;

/** `cancel ID`: stops a job (and with --delete-video removes its Gcore video). */
export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'cancel a job',
  usage: `Usage: pnpm relay cancel ID [--delete-video] [--json]

Cancels a job: stops any transfer and removes the file from the relay.
  --delete-video   also delete the video at Gcore (needed to cancel a job that is ready)`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('cancel', argv, options);
    const id = singleId('cancel', positionals);
    const client = await connect(values, io);
    const job = await client.cancelJob(id, { deleteVideo: values['delete-video'] ?? false });
    if (values.json) {
      printJson(io, job);
      return EXIT.ok;
    }
    println(io, `job ${job.id} canceled`);
    if (values['delete-video'] && job.video) println(io, `Gcore video ${job.video.id} will be deleted`);
    return EXIT.ok;
  },
};
