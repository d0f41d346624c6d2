// `m365-sim`: a local stand-in for the Microsoft 365 endpoints tenantwatch uses.
import { Command } from 'commander';

const program = new Command('m365-sim').description('A faithful local simulator of Microsoft 365 (identity, Management Activity API, Graph, Exchange admin API).');
program
  .command('serve')
  .description('serve the simulator over HTTPS with its own CA')
  .option('--port <port>', 'port (0 = chosen by the system)', '0')
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--world <file|demo>', 'world file (YAML) or the built-in demo world', 'demo')
  .option('--latency <seconds>', 'seconds before appended records become listable content', '3')
  .option('--http', 'serve plain HTTP instead of HTTPS')
  .action(() => {
    process.stderr.write('m365-sim serve: not built yet\n');
    process.exitCode = 1;
  });
program.parse();
