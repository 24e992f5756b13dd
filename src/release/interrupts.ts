/** Interrupts of work running on the master on the operator's behalf. */
/**
 * SIGINT/SIGTERM/SIGHUP, or the operator's connection gone, turn into an abort the release
 * pipeline honours at its next safe point. `probe` finds a gone connection at once (a write to
 * the closed channel fails); a blank line every 2 s finds it in between.
 */
export function watchInterrupts(opts: { heartbeat?: boolean } = {}): { signal: AbortSignal; probe(): Promise<void>; stop(): void } {
  const ac = new AbortController();
  const abort = () => ac.abort();
  // SIGPIPE too: sshd starts commands with its default action (terminate), so a write to the
  // closed channel would kill the process before it could release the lock or switch back.
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGPIPE'] as const;
  for (const s of sigs) process.on(s, abort);
  process.stdout.on('error', abort);
  process.stderr.on('error', abort);
  const probe = () =>
    new Promise<void>((resolve) => {
      if (process.stdout.destroyed || process.stdout.writableEnded) {
        abort();
        resolve();
        return;
      }
      process.stdout.write('\n', (err) => {
        if (err) abort();
        resolve();
      });
    });
  // the heartbeat is for a run over SSH; under systemd (a timer's run) it would only fill the journal
  const beat = opts.heartbeat === false ? undefined : setInterval(() => void probe(), 2000);
  beat?.unref();
  return {
    signal: ac.signal,
    probe,
    stop() {
      clearInterval(beat);
      for (const s of sigs) process.removeListener(s, abort);
      process.stdout.removeListener('error', abort);
      process.stderr.removeListener('error', abort);
    },
  };
}
