/**
 * Preloaded (`--import`) into the MailerLogic processes the benchmark starts: ties their life
 * to the benchmark's IPC channel, so a benchmark killed outright (SIGKILL, OOM) does not leave
 * a service running. The channel is unref'd, so it never keeps a stopping process alive.
 * It changes nothing else: src/main.ts is still the entry point, with its own argv.
 */
if (process.channel) {
  process.channel.unref();
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 20_000).unref();
  });
}
export {};
