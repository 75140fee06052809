import type { Command } from 'commander';
import { action } from '../action.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';

/** `credproxy ca`: the CA certificate sandboxes must trust, as PEM on stdout. */
export function registerCaCommand(program: Command): void {
  withConnection(program.command('ca'))
    .description('print the CA certificate (PEM) that sandboxes must trust')
    .action(
      action(async (out, flags: ConnectionFlags) => {
        const pem = await connect(flags, { requireKey: false }).caPem();
        process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
      }),
    );
}
