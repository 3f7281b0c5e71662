import { ConfigError, loadConfig } from '../config/schema.js';
import { Server } from './Server.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}

const server = await new Server(config).start();

// The last resort: a fault nobody caught is logged with its stack and the
// server goes on serving every other session. Each such line is a defect to
// fix where it arose; exiting would end every session in the province.
process.on('unhandledRejection', (reason) => {
  server.logger.error({ err: reason }, 'unhandled rejection (a defect; the server goes on)');
});
process.on('uncaughtException', (error) => {
  server.logger.fatal({ err: error }, 'uncaught exception (a defect; the server goes on)');
});
if (server.demo) {
  const d = server.demo;
  const lines = [
    '',
    `  Diemcau is running at ${server.url}` + (server.localUrl !== server.url ? ` (on this machine: ${server.localUrl})` : ''),
    '  Cameras work over HTTPS or on localhost: for other machines, put it behind HTTPS and set DIEMCAU_PUBLIC_URL.',
    '',
    `  Demo session "${d.sessionId}" — open each link in its own tab on this machine:`,
    '  (the demo links, and the demo buttons on the home page, work from this machine only; in production set DIEMCAU_DEMO=false)',
    `    Studio (provincial hall):  ${d.studio}`,
    `    Control room:              ${d.operator}`,
    ...d.points.map((p) => `    Connection point ${p.name}: ${p.url}`),
    '',
  ];
  console.log(lines.join('\n'));
}

if (server.bootstrapAdmin?.generatedPassword) {
  console.log(
    `  First operator account: ${server.bootstrapAdmin.username} / ${server.bootstrapAdmin.generatedPassword}` +
      `\n  (shown once; sign in at ${server.localUrl}/console — set DIEMCAU_ADMIN_PASSWORD before the first start to choose it)\n`,
  );
}

const stop = async () => {
  server.logger.info('shutting down');
  await server.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
