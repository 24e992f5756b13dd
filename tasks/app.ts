// Stops, starts or restarts the app's services (web, worker, beat) on the app hosts, or shows them.
//   ops task app staging stop
//   ops task app production restart --host prod-web-1
import { defineTask } from 'ops';

export default defineTask({
  name: 'app',
  description: "stop, start or restart the app's services on its hosts, or show their state",
  args: [{ name: 'action', description: 'stop | start | restart | status', required: true, choices: ['stop', 'start', 'restart', 'status'] }],
  async run(t) {
    const action = String(t.args.action);
    const apps = t.hosts().filter((h) => h.roles.includes('web') || h.roles.includes('worker'));
    if (apps.length === 0) throw new Error(`'${t.env}' has no web or worker host`);
    if (action === 'stop') await t.confirm(`stop ${t.project} on ${apps.map((h) => h.name).join(', ')} (the site answers 502 until it starts again)?`);
    await t.each(apps, async (h) => {
      const units = [...(h.roles.includes('web') ? ['web'] : []), ...(h.roles.includes('worker') ? ['worker', 'beat'] : [])].map((u) => `${t.project}-${u}.service`);
      // Only the units this host has (beat may be turned off in the pillar).
      const present = [];
      for (const u of units) if ((await h.sudo(['systemctl', 'cat', '--', u], { quiet: true, check: false })).ok) present.push(u);
      if (action !== 'status') await h.sudo(['systemctl', action, '--', ...present]);
      const state = await h.sudo(['systemctl', 'is-active', '--', ...present], { quiet: true, check: false });
      const states = state.stdout.trim().split('\n');
      h.log(present.map((u, i) => `${u}: ${states[i] ?? 'unknown'}`).join(', '));
    });
  },
});
