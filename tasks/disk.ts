// tasks/disk.ts — ops task disk staging --over 80
import { defineTask } from 'ops';

export default defineTask({
  name: 'disk',
  description: 'show how full the root file system of each host is; exit 1 above a threshold',
  args: [{ name: 'path', description: 'file system to look at', default: '/' }],
  options: { over: { type: 'number', description: 'fail when a host is fuller than this percentage', default: 90 } },
  async run(t) {
    const over = Number(t.options.over);
    const full = await t.each(t.hosts(), async (h) => {
      // An array is argv: each word is quoted for the remote shell.
      const df = await h.run(['df', '--output=pcent', '--', String(t.args.path)], { quiet: true });
      const used = Number(df.stdout.split('\n')[1]?.trim().replace('%', ''));
      h.log(`${t.args.path} is ${used}% full`);
      t.event('disk', { host: h.name, path: t.args.path, used });
      return used > over ? h.name : undefined;
    });
    const bad = full.filter(Boolean);
    if (bad.length > 0) {
      t.warn(`fuller than ${over}%: ${bad.join(', ')}`);
      return 1;
    }
    t.result(`every host is at most ${over}% full`);
  },
});
